run.external_signal("rate_limit", source="openai", http_status=429)
