"""The Dapr dialect of the protocol, served on its own port (``--dapr-port``).

Dapr Workflow SDKs speak a fork of ``TaskHubSidecarService`` at the same method paths, in which
some field numbers mean other things (docs/dapr-dialect.md). :mod:`emulator.dapr.dialect`
rewrites those fields on the wire, on the way in and out; everything else passes through to the
same servicer and engine as Microsoft's dialect.
"""
