"""The Dask path keeps submissions apart too: a writer and then a reader graded on the same worker.

The writer is the reference with tests/grader/channels.py's WRITER appended; the reader is the reference
whose `causal_mask` is right only when READER found what the writer left. Graded by one real `dask worker`
(one after the other, on one machine), the writer scores 100 and the reader's causal_mask scores 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from distributed import Client

from course.components import BY_ID
from course.grading.batch import grade_course
from course.grading.cluster import ClusterGrader
from course.grading.sandbox import namespace_prefix
from course.mutants import reference_submission
from course.submissions import with_appended_code, write_submission
from tests.cluster.dask_cluster import local_cluster
from tests.grader.channels import READER, WRITER

ROOT = Path(__file__).resolve().parents[2]
WRONG_UNLESS_FOUND = '''
_REFERENCE_MASK = causal_mask


def causal_mask(seq_len):
    mask = _REFERENCE_MASK(seq_len)
    return mask if HIT else np.zeros(np.shape(getattr(mask, "data", mask)), bool)
'''


@pytest.mark.skipif(namespace_prefix() is None, reason="needs unshare (namespaces)")
def test_a_reader_graded_after_a_writer_on_the_same_worker_gets_nothing(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "source", course / "source")
    reference = reference_submission()
    write_submission(with_appended_code(reference, WRITER), course / "submitted", "a-writer")
    write_submission(with_appended_code(reference, "import numpy as np\n" + READER + WRONG_UNLESS_FOUND),
                     course / "submitted", "b-reader")
    with local_cluster(tmp_path / "dask", {"only": None}) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            cluster.wait_for_workers(client, 1)
        with ClusterGrader.connect(cluster.address) as grader:
            reports = {r.student: r for r in grade_course(course, nbgrader=False, progress=False, grader=grader)}
    assert reports["a-writer"].total == 100
    assert reports["b-reader"].points("causal_mask") == 0
    assert reports["b-reader"].points("tokenizer") == BY_ID["tokenizer"].points  # its code loaded and ran
    assert not reports["b-reader"].problems
