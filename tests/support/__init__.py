"""Helpers the tests share: test servers, scenario loading, the built report world."""
