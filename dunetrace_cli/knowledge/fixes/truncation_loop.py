response = client.chat.completions.create(model=model, messages=messages, max_tokens=2048)
choice = response.choices[0]
if choice.finish_reason == "length":
    messages.append({"role": "assistant", "content": choice.message.content or ""})
    messages.append({"role": "user", "content": "Continue exactly where you stopped."})
