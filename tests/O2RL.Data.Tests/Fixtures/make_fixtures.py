"""Writes the small h5py fixtures read by D4rlFixtureTests.

The tests never run Python; this script documents exactly how each fixture was made and can regenerate them:

    python3 make_fixtures.py        (needs h5py and numpy; on Debian: apt-get install python3-h5py)

Every value is a closed formula of the row/column index, so the C# tests recompute the expected arrays.
"""

import h5py
import numpy as np

N = 12


def observations(n, dim):
    # obs[i, j] = i + j / 10
    return (np.arange(n)[:, None] + np.arange(dim)[None, :] / 10.0).astype(np.float32)


def actions(n, dim):
    # act[i, j] = sin(i + j), inside [-1, 1]
    return np.sin(np.arange(n)[:, None] + np.arange(dim)[None, :]).astype(np.float32)


def d4rl_style(path):
    """D4RL v2 layout: gzip everywhere, h5py's automatic chunks, numpy bools, nested infos/ and metadata/ groups."""
    obs = observations(N, 3)
    terminals = np.zeros(N, dtype=bool)
    terminals[4] = True
    timeouts = np.zeros(N, dtype=bool)
    timeouts[9] = True
    with h5py.File(path, "w") as f:
        f.create_dataset("observations", data=obs, compression="gzip", chunks=True)
        f.create_dataset("actions", data=actions(N, 2), compression="gzip", compression_opts=9, chunks=(4, 2))
        f.create_dataset("rewards", data=np.arange(N, dtype=np.float32) * 0.5, compression="gzip")
        f.create_dataset("next_observations", data=obs + 0.5, compression="gzip")
        f.create_dataset("terminals", data=terminals, compression="gzip")
        f.create_dataset("timeouts", data=timeouts, compression="gzip")
        f.create_dataset("infos/qpos", data=np.ones((N, 4), dtype=np.float32), compression="gzip")
        f.create_dataset("infos/action_log_probs", data=np.zeros(N, dtype=np.float32), compression="gzip")
        f["metadata/algorithm"] = np.bytes_("SAC")
        f["metadata/iteration"] = np.int32(7)
        f.create_dataset("metadata/policy/fc0/weight", data=np.ones((4, 3), dtype=np.float32))
        f.attrs["environment_id"] = "hopper-medium-v2"
        f.attrs["level"] = "medium"
        f.attrs["behaviour_return"] = 1234.5
        f.attrs["generator_version"] = "h5py fixture"
        f.attrs["seed"] = np.int64(17)


def older_layout(path):
    """Older files: float64 arrays, rewards as (N, 1), terminals as float32 0/1, no timeouts, shuffle + fletcher32."""
    terminals = np.zeros(N, dtype=np.float32)
    terminals[N - 1] = 1.0
    with h5py.File(path, "w") as f:
        f.create_dataset("observations", data=observations(N, 3).astype(np.float64), compression="gzip", shuffle=True, fletcher32=True)
        f.create_dataset("actions", data=actions(N, 2).astype(np.float64))
        f.create_dataset("rewards", data=(np.arange(N, dtype=np.float64) * 0.5)[:, None])
        f.create_dataset("terminals", data=terminals)


def compressed_with(path, compression):
    """A valid layout whose observations use a filter we cannot read."""
    with h5py.File(path, "w") as f:
        kwargs = {"compression": compression}
        if compression == "szip":
            kwargs["compression_opts"] = ("nn", 8)
        f.create_dataset("observations", data=observations(N, 3), chunks=(N, 3), **kwargs)
        f.create_dataset("actions", data=actions(N, 2), compression="gzip")
        f.create_dataset("rewards", data=np.zeros(N, dtype=np.float32), compression="gzip")
        f.create_dataset("terminals", data=np.zeros(N, dtype=bool), compression="gzip")
        f.create_dataset("timeouts", data=np.zeros(N, dtype=bool), compression="gzip")


if __name__ == "__main__":
    d4rl_style("h5py_d4rl_style.hdf5")
    older_layout("h5py_older_layout.hdf5")
    compressed_with("h5py_lzf.hdf5", "lzf")
    compressed_with("h5py_szip.hdf5", "szip")
