"""Registry access: who may pull, push and delete which image.

- ``names``: Distribution's repository name grammar and our ``namespace/name`` shape.
- ``namespaces``: owned namespaces (one account each, globally unique).
- ``hashing``: the slow hash of registry passwords and robot secrets.
- ``password``: an account's registry logon password.
- ``robots``: robot accounts ``<account>+<name>`` with explicit permissions.
- ``plain``: image repositories without a source (and those a push creates).
- ``principals``: Basic credentials to who is asking (owner, robot, anonymous).
- ``grants``: the token server's rule, grant = asked ∩ allowed.
- ``signing``: the token signing key, its self-signed certificate and the bundle.
- ``tokens``: JWTs as Distribution's token auth wants them.
- ``config``: the Distribution config.yml buildsvc's registry runs with.
"""
