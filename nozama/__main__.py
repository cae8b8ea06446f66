import sys

if sys.argv[1:2] == ["lb"]:
    # `nozama lb` drives an HAProxy that outlives it: a stop that arrives while it is
    # still starting must reach it too (the default action would end it on the spot).
    from nozama.kernel import shutdown
    shutdown.catch_early_stop()

from nozama.cli.main import main  # noqa: E402

raise SystemExit(main())
