"""Solution of ex05: a per-user time split, and the answer to the leakage question."""
import numpy as np
import pandas as pd


def time_split(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the earliest int(n·frac) interactions are the source, the rest the target."""
    df = interactions.sort_values(["user", "timestamp"], kind="stable")
    position = df.groupby("user").cumcount()                   # 0, 1, 2, ... within each user
    n_user = df.groupby("user")["item"].transform("size")      # the user's number of rows
    early = position < np.floor(n_user * frac)
    return df[early], df[~early]


answer = "B"
