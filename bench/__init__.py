
# Servers the benches start measure the services, not the request rate limits (shared/ratelimit.py).
NO_RATE_LIMITS = {"SLDS_RATE_LIMIT_PER_MINUTE": "0", "SLDS_TOKEN_REQUESTS_PER_MINUTE": "0"}
