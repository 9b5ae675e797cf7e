from vmcore.entrypoints.cli import main

raise SystemExit(main())
