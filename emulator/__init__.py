"""vmie's local AWS emulator (Python 3 standard library only).

One HTTP endpoint on 127.0.0.1 serves every service; requests are dispatched
by the service name in their SigV4 credential scope, and every signature is
verified against the emulator's configured credentials.
"""
