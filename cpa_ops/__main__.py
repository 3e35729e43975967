"""``python -m cpa_ops``: the console script (its deadline armed before any heavy import)."""

from cpa_ops.cli import main

if __name__ == "__main__":
    main()
