"""The local stack: an in-memory WeCom world and the loopback sandbox that serves it (plus the other local runners).

Nothing here is packaged into the Lambda; it exists so the real client and the callback receiver can be exercised
without WeCom.
"""
