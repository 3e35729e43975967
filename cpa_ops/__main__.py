from cpa_ops.cli import main

main()
