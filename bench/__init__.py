"""The benchmark (`python -m bench`, from a checkout) and the loopback fakes it and the tests use.

A development tool: not installed with the product, which never imports it.
"""
