"""optim.ConfusionMatrix: counts (0-based targets), statistics, batchAdd, and Torch7's printed table."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

# (target, prediction) pairs giving rows [2 1 0], [0 3 1], [1 0 0]
PAIRS = [(0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (1, 1), (1, 2), (2, 0)]
MAT = [[2, 1, 0], [0, 3, 1], [1, 0, 0]]


def filled(classes=('cat', 'dog', 'person')):
    cm = optim.ConfusionMatrix(list(classes) if classes else 3)
    for t, p in PAIRS:
        cm.add(p, t)
    return cm


def f32(v):
    return float(np.float32(v))


def test_counts_and_fields():
    cm = filled()
    assert cm.mat.type() == 'torch.LongTensor' and cm.valids.type() == 'torch.FloatTensor'
    assert cm.mat.tolist() == MAT
    assert cm.nclasses == 3 and cm.classes == ['cat', 'dog', 'person']
    cm.updateValids()
    np.testing.assert_array_equal(cm.valids.numpy(), np.float32([2 / 3, 3 / 4, 0]))
    np.testing.assert_array_equal(cm.unionvalids.numpy(), np.float32([2 / 4, 3 / 5, 0]))
    assert cm.totalValid == 5 / 8
    assert cm.averageValid == pytest.approx((f32(2 / 3) + 0.75 + 0) / 3, rel=1e-15)
    assert cm.averageUnionValid == pytest.approx((0.5 + f32(0.6) + 0) / 3, rel=1e-15)


def test_printed_table_named_classes():
    cm = filled()
    avg = (f32(2 / 3) + 0.75 + 0.0) / 3
    avg_u = (0.5 + f32(0.6) + 0.0) / 3
    expected = ('ConfusionMatrix:\n'
                '[[       2       1       0]   66.667% \t[class: cat]\n'
                ' [       0       3       1]   75.000% \t[class: dog]\n'
                ' [       1       0       0]]  0.000% \t[class: person]\n'
                ' + average row correct: ' + '%.14g' % (avg * 100) + '% \n'
                ' + average rowUcol correct (VOC measure): ' + '%.14g' % (avg_u * 100) + '% \n'
                ' + global correct: 62.5%')
    assert str(cm) == expected
    assert ' + average row correct: 47.222222884496% \n' in expected   # Lua's %.14g of float32 valids


def test_printed_table_unnamed_and_wide_counts():
    cm = optim.ConfusionMatrix(2)
    cm.mat[0, 0] = 123456789              # 9 digits: columns widen to 1 + ceil(log10(max)) = 10
    cm.mat[1, 0] = 1
    s = str(cm)
    assert s.splitlines()[1] == '[[ 123456789         0]   100.000% '
    assert s.splitlines()[2].startswith(' [         1         0]]  0.000% ')


def test_row_without_samples_is_nan():
    cm = optim.ConfusionMatrix(['a', 'b'])
    cm.add(0, 0)
    s = str(cm)
    assert math.isnan(cm.valids[1])
    assert cm.averageValid == 1.0            # NaN classes are left out of the average
    assert 'nan% \t[class: b]' in s


def test_add_with_scores_and_one_hot_targets():
    cm = optim.ConfusionMatrix(3)
    cm.add(torch.DoubleTensor([0.1, 0.7, 0.2]), 1)                    # scores, index target
    cm.add(np.array([0.9, 0.05, 0.05]), np.array([0.0, 0.0, 1.0]))   # scores, one-hot target
    cm.add(2, torch.FloatTensor([0, 0, 1]))
    cm.add(1, -1)                                                       # negative target: missing, ignored
    assert cm.mat.tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 1]]
    with pytest.raises(IndexError, match='0-based'):
        cm.add(3, 0)
    with pytest.raises(IndexError, match='target 3'):
        cm.add(0, 3)


def test_batch_add_matches_add():
    rs = np.random.RandomState(0)
    scores = rs.rand(50, 4)
    targets = rs.randint(0, 4, 50)
    targets[[3, 7]] = -1                     # missing
    a, b, c = optim.ConfusionMatrix(4), optim.ConfusionMatrix(4), optim.ConfusionMatrix(4)
    for s, t in zip(scores, targets):
        a.add(torch.DoubleTensor(s), int(t))
    b.batchAdd(torch.DoubleTensor(scores), torch.LongTensor(targets))
    one_hot = np.eye(4)[np.clip(targets, 0, 3)]
    keep = targets >= 0
    c.batchAdd(torch.LongTensor(scores.argmax(1)[keep]), torch.DoubleTensor(one_hot[keep]))
    assert b.mat.tolist() == a.mat.tolist() == c.mat.tolist()
    assert a.mat.sum() == 48
    # N x 1 columns are flattened
    d = optim.ConfusionMatrix(4)
    d.batchAdd(torch.DoubleTensor(scores.argmax(1)[keep][:, None]), torch.LongTensor(targets[keep][:, None]))
    assert d.mat.tolist() == a.mat.tolist()
    with pytest.raises(IndexError):
        d.batchAdd(torch.LongTensor([4]), torch.LongTensor([0]))
    with pytest.raises(ValueError, match='predictions but'):
        d.batchAdd(torch.LongTensor([1, 2]), torch.LongTensor([0]))


def test_missing_target_leaves_its_prediction_unread():
    # Lua's _add counts only where the target is positive (1-based) and reads the prediction there alone: a
    # missing target beside any prediction is no error (it raised IndexError for the prediction)
    cm = optim.ConfusionMatrix(3)
    cm.add(5, -1)
    cm.batchAdd(torch.LongTensor([5, 2, -4]), torch.LongTensor([-1, 1, -1]))
    assert cm.mat.tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 0]]
    with pytest.raises(IndexError, match='prediction 5'):
        cm.batchAdd(torch.LongTensor([5, 2]), torch.LongTensor([0, -1]))


def test_zero_and_far_frr():
    cm = filled()
    frrs_c, fars_c, frrs, fars = cm.farFrr()
    np.testing.assert_allclose(frrs.numpy(), [1 - 2 / 3, 1 - 3 / 4, 1.0])
    np.testing.assert_allclose(fars.numpy(), [(0 / 4 + 1 / 1) / 2, (1 / 3 + 0 / 1) / 2, (0 / 3 + 1 / 4) / 2])
    np.testing.assert_allclose(frrs_c.numpy(), frrs.numpy())
    cm.zero()
    assert cm.mat.sum() == 0 and cm.totalValid == 0 and cm.averageValid == 0
