def complete_non_empty(create, **request):
    for _ in range(2):
        response = create(**request)
        if (response.choices[0].message.content or "").strip():
            return response
    raise RuntimeError("the model returned an empty completion twice")
