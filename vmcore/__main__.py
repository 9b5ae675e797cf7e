from vmcore.cli import main

raise SystemExit(main())
