"""What every HTTP surface shares (REST API, console, metrics): typed keys, JSON in and
out, pagination, middleware, the OpenAPI description, response models."""
