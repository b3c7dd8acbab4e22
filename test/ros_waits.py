"""How long node tests wait for DDS discovery.

Discovery is the middleware's, not the feature under test: on a loaded CI machine a server created a moment ago has
been seen to take over 10 s to appear to a client. A generous bound only slows a failing run.
"""

DISCOVERY_TIMEOUT = 60.0  # s, for wait_for_server / wait_for_service(s)
