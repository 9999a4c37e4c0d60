import luatorch_py as torch
from luatorch_py import nn


class _SwappedRows(nn.Linear):
    """accUpdateGradParameters puts row 0's update on row 1 and row 1's on row 0: wrong per output."""
    def accUpdateGradParameters(self, input, gradOutput, lr):
        self.weight.add(-lr, torch.ger(gradOutput.index(0, torch.LongTensor([1, 0])), input))


def test_update_parameters_checks_each_output_as_torch7():
    # Torch7 compares the update for each one-hot gradOutput; a sum over the outputs hides the swapped rows
    torch.manualSeed(1)
    m = _SwappedRows(3, 2).double()
    assert nn.Jacobian.testJacobianUpdateParameters(m, torch.DoubleTensor(3), m.weight) > 0.1
    m = nn.Linear(3, 2).double()
    assert nn.Jacobian.testJacobianUpdateParameters(m, torch.DoubleTensor(3), m.weight) < 1e-5


def test_update_parameters_leaves_the_parameters_as_they_were():
    torch.manualSeed(2)
    m = nn.Linear(3, 2).double()
    nn.Jacobian.testJacobianUpdateParameters(m, torch.DoubleTensor(3), m.weight)
    w, b = m.weight.clone(), m.bias.clone()
    x = torch.DoubleTensor(3).fill(0.5)
    nn.Jacobian.testJacobianUpdateParameters(m, x, m.weight, randomize=False)
    assert torch.equal(m.weight, w) and torch.equal(m.bias, b)


def test_backward_update_columns_are_param_minus_one_hot_gradient():
    m = nn.Linear(2, 2).double()
    m.weight.copy(torch.DoubleTensor([[1, 2], [3, 4]]))
    m.bias.zero()
    x = torch.DoubleTensor([10, 20])
    jac = nn.Jacobian.backwardUpdate(m, x, m.weight)
    # column j: weight after subtracting x in row j
    assert jac[:, 0].tolist() == [-9, -18, 3, 4]
    assert jac[:, 1].tolist() == [1, 2, -7, -16]


class _DoubleStep(nn.Linear):
    """accUpdateGradParameters takes twice the step."""
    def accUpdateGradParameters(self, input, gradOutput, lr):
        nn.Linear.accUpdateGradParameters(self, input, gradOutput, 2 * lr)


def test_all_update_as_torch7():
    torch.manualSeed(4)
    x = torch.randn(2, 4).double()
    errors = nn.Jacobian.testAllUpdate(nn.Linear(4, 3).double(), x, 'weight', 'gradWeight')
    assert sorted(errors) == ["accGradParameters", "accGradParameters [shared]", "accUpdateGradParameters",
                              "accUpdateGradParameters [shared]"]
    assert max(errors.values()) < 1e-12
    errors = nn.Jacobian.testAllUpdate(_DoubleStep(4, 3).double(), x, 'weight', 'gradWeight')
    assert errors["accGradParameters"] < 1e-12 and errors["accUpdateGradParameters"] > 0.01


def test_io_round_trips_through_a_t7_file():
    torch.manualSeed(5)
    m = nn.Linear(4, 3).double()
    assert nn.Jacobian.testIO(m, torch.randn(2, 4).double()) == (0.0, 0.0)
    assert m.gradWeight.abs().sum() > 0      # accGradParameters ran with the random gradOutput


def test_none_arguments_take_torch7_defaults():
    # Lua's jac.testJacobian(m, x, nil, nil, nil) reads `minval or -2`, ...: None is the same here
    torch.manualSeed(6)
    x = torch.DoubleTensor(5)
    assert nn.Jacobian.testJacobian(nn.Tanh().double(), x, None, None, None) < 1e-5
    assert x.min() >= -2 and x.max() <= 2 and x.max() > 0.5
    m = nn.Linear(3, 2).double()
    assert nn.Jacobian.testJacobianParameters(m, torch.DoubleTensor(3), m.weight, m.gradWeight, None, None,
                                              None) < 1e-5
