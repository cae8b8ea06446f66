from nozama.cli.main import main

raise SystemExit(main())
