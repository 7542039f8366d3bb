import concurrent.futures

_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)


def call_with_timeout(fn, *args, timeout_s: float = 10.0, **kwargs):
    future = _pool.submit(fn, *args, **kwargs)
    return future.result(timeout=timeout_s)  # TimeoutError: report it as a failed tool call
