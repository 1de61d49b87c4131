"""Response models shared by the REST API and the console, one module per domain."""
