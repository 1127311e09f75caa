"""Runlet's Python runtime server, as modules of one package (runtimes/python/server.py runs it).

Everything here is standard library only and runs inside a function instance.
"""
