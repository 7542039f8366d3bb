from openai import OpenAI

client = OpenAI(max_retries=5)  # retries 429s and 5xx with exponential backoff
