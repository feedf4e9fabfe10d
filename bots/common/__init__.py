"""Code the bots and the bridge share; no bot imports another bot."""
