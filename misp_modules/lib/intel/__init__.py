"""Clients for the threat-intel services the intel modules query (CIRCL hashlookup, BGP Ranking,
IP ASN History).

They wrap the upstream client libraries (pyhashlookup, pybgpranking2, pyipasnhistory) and add what
those lack for a long-running server: explicit timeouts, HTTP status checks, bounded retries on
both http:// and https://, base URLs from the deployment settings, a TTL cache, and errors that
say which service failed and how. Modules never build these clients themselves: they call
:func:`hashlookup.get_client` / :func:`bgpranking.get_client`.
"""
