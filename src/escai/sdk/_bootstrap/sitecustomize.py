"""Loaded by Python at start-up in programs run by ``escai run`` (this folder is put first on PYTHONPATH).

It configures ESCAI from the ``ESCAI_*`` environment variables the command set, arms the framework
instrumentors, and then loads the ``sitecustomize`` module this one shadows, if there is one.
"""

try:
    from escai.sdk.autoinstrument import bootstrap

    bootstrap(__file__)
except Exception as error:  # start-up code must never stop the user's program
    import sys

    print(f"escai: automatic instrumentation is off ({type(error).__name__}: {error})", file=sys.stderr)
