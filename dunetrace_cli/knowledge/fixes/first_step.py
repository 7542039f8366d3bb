import os

missing = [name for name in ("OPENAI_API_KEY",) if not os.environ.get(name)]
if missing:
    raise SystemExit(f"missing configuration: {', '.join(missing)}")
