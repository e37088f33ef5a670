"""LanguageModelTrainer clips each parameter's gradient on its own instead of the global norm."""

import numpy as np

from tinytorch import optim
from tinytorch.data import random_windows

BREAKS = ("trainer",)


class LanguageModelTrainer:
    def __init__(self, model, optimizer, loss_fn, clip_norm=None):
        self.model, self.optimizer, self.loss_fn, self.clip_norm = model, optimizer, loss_fn, clip_norm
        self.history = []

    def train_step(self, batch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(batch), batch)
        loss.backward()
        if self.clip_norm is not None:
            for p in self.model.parameters():
                optim.clip_grad_norm([p], self.clip_norm)
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
