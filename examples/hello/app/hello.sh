#!/bin/sh
# Prints the greeting the demo and the end-to-end tests look for.
echo "${GREETING:-Hello} from buildsvc!"
echo "This image was built from examples/hello ($(cat /app/VERSION))."
