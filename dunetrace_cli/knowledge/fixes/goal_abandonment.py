from openai import OpenAI

client = OpenAI(timeout=30.0, max_retries=2)
