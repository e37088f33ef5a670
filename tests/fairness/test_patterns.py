"""Everyday patterns of honest students score full points (issue 9): the cases that used to lose them.

One submission: the reference with four solution cells rewritten as students wrote them: a module-level
constant used by a class (`base = 10000`), a module-level alias (`activation = F.gelu`), a leftover
IPython help line (`np.tril?`), and clipping through `self.optimizer.parameters()`. Graded by the real
harness on those components and end_to_end (the rest of the notebook is the reference's).
"""

import nbformat

from course.grading.harness import grade_notebook
from course.mutants import reference_submission
from course.submissions import with_cell

PATTERNS = {
    "positional_encoding_code": '''base = 10000


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        angles = np.arange(max_len)[:, None] / base ** (np.arange(0, d_model, 2) / d_model)
        self.pe = np.zeros((max_len, d_model), dtype=np.float32)
        self.pe[:, 0::2] = np.sin(angles)
        self.pe[:, 1::2] = np.cos(angles)[:, : d_model // 2]

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError("sequence longer than max_len")
        return x + Tensor(self.pe[: x.shape[1]])
''',
    "transformer_block_code": '''activation = F.gelu


class TransformerBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff=None, dropout=0.0):
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.ln1, self.attn, self.ln2 = LayerNorm(d_model), MultiHeadAttention(d_model, num_heads), LayerNorm(d_model)
        self.fc1, self.fc2, self.drop = nn.Dense(d_model, d_ff), nn.Dense(d_ff, d_model), nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.fc2(activation(self.fc1(self.ln2(x)))))
''',
    "causal_mask_code": '''np.tril?

def causal_mask(seq_len):
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))
''',
    "trainer_code": '''class LanguageModelTrainer:
    def __init__(self, model, optimizer, loss_fn, clip_norm=None):
        self.model, self.optimizer, self.loss_fn, self.clip_norm = model, optimizer, loss_fn, clip_norm
        self.history = []

    def train_step(self, batch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(batch), batch)
        loss.backward()
        if self.clip_norm is not None:
            optim.clip_grad_norm(self.optimizer.parameters(), self.clip_norm)
        self.optimizer.step()
        self.history.append(loss.item())
        return loss.item()

    def fit(self, tokens, num_steps, batch_size, block_size, seed=0, lr_schedule=None, progress=True):
        rng = np.random.default_rng(seed)
        losses = []
        for step in range(num_steps):
            if lr_schedule is not None:
                self.optimizer.lr = lr_schedule(step)
            losses.append(self.train_step(random_windows(tokens, batch_size, block_size, rng)))
        return losses
''',
}
COMPONENTS = ["positional_encoding", "causal_mask", "transformer_block", "trainer", "end_to_end"]


def test_constants_aliases_help_lines_and_optimizer_parameters_score_full_points(tmp_path):
    notebook = reference_submission()
    for grade_id, code in PATTERNS.items():
        notebook = with_cell(notebook, grade_id, code)
    path = tmp_path / "patterns.ipynb"
    nbformat.write(notebook, path)
    report = grade_notebook(path, "patterns", components=COMPONENTS)
    failures = [f"{c.id} {t.test}: {t.message}" for c in report.components for t in c.tests if not t.passed]
    assert report.total == report.max_total, f"scored {report.total}/{report.max_total}: {failures} {report.problems}"
    assert report.problems == [], report.problems
