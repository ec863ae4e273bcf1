"""The dialect-free model of the gateway. Imports no web framework."""
