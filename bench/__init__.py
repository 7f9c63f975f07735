"""`rollout-bot bench` and the loopback fakes it and the tests use; apart from the product, which never imports it."""
