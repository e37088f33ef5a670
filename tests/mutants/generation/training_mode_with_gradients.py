"""generate runs the model in training mode and records gradients (no eval(), no no_grad())."""

import numpy as np

BREAKS = ("generation",)


def generate(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None, seed=None):
    rng = np.random.default_rng(seed)
    ids = list(tokenizer.encode(prompt))
    for _ in range(max_new_tokens):
        context = np.array([ids[-model.max_len:]])  # (1, T)
        logits = model(context).data[0, -1].astype(np.float64)  # (V,)
        if temperature == 0:
            ids.append(int(np.argmax(logits)))
            continue
        logits = logits / temperature
        if top_k is not None:
            logits = np.where(logits < np.sort(logits)[-top_k], -np.inf, logits)
        probs = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(probs), p=probs / probs.sum())))
    return tokenizer.decode(ids)
