"""Where jobs run: a small Protocol (base) and its implementations (local; cloud later)."""
