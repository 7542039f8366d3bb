class FailureBreaker:
    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self.streak = 0

    def record(self, ok: bool) -> None:
        self.streak = 0 if ok else self.streak + 1
        if self.streak >= self.limit:
            raise RuntimeError("several tools failed in a row; a shared dependency is probably down")
