"""Exact text of Torch7's tostring(tensor)/tostring(storage).

Expected strings were traced by hand through torch7's Tensor.lua (Storage__printformat, Tensor__printMatrix,
Tensor__printTensor, __tostring__); the ones marked "doc" are printed outputs from torch7's own documentation.
tostring() ends with a newline after the footer; print() adds another.
"""
import time

import numpy as np

from luatorch_py.printing import format_storage, format_tensor


def ft(values, typename='torch.DoubleTensor', dtype=np.float64):
    return format_tensor(np.array(values, dtype=dtype), typename)


# -- integer mode: '%{expMax+1}d' -------------------------------------------------------------------------
def test_filled_2x3():
    assert ft(np.ones((2, 3))) == ' 1  1  1\n 1  1  1\n[torch.DoubleTensor of size 2x3]\n'


def test_range_1d():
    assert ft([1, 2, 3]) == ' 1\n 2\n 3\n[torch.DoubleTensor of size 3]\n'


def test_doc_4x5():  # doc: tensor.md, a 4x5 storage filled with 1..20
    assert ft(np.arange(1, 21).reshape(4, 5)) == (
        '  1   2   3   4   5\n'
        '  6   7   8   9  10\n'
        ' 11  12  13  14  15\n'
        ' 16  17  18  19  20\n'
        '[torch.DoubleTensor of size 4x5]\n')


def test_int_negative_width_from_max_magnitude():
    assert ft([[1, -20, 3], [4, 5, 600]]) == '   1  -20    3\n   4    5  600\n[torch.DoubleTensor of size 2x3]\n'


def test_zeros():  # min/max 0 count as exponent 1
    assert ft(np.zeros((2, 2))) == ' 0  0\n 0  0\n[torch.DoubleTensor of size 2x2]\n'


def test_long_negative_1d():
    assert ft([-3, 10, 250], 'torch.LongTensor', np.int64) == '  -3\n  10\n 250\n[torch.LongTensor of size 3]\n'


def test_byte():
    assert ft([[0, 255], [7, 16]], 'torch.ByteTensor', np.uint8) == (
        '   0  255\n   7   16\n[torch.ByteTensor of size 2x2]\n')


def test_int_types():
    for name, dt in [('Char', np.int8), ('Short', np.int16), ('Int', np.int32)]:
        assert ft([[-1, 2]], f'torch.{name}Tensor', dt) == f'-1  2\n[torch.{name}Tensor of size 1x2]\n'


def test_huge_integers_use_e_format():  # expMax > 9
    assert ft([12345678901, -5], 'torch.LongTensor', np.int64) == (
        ' 1.2346e+10\n-5.0000e+00\n[torch.LongTensor of size 2]\n')


# -- fractional values: '%{sz}.4f' ---------------------------------------------------------------------------
def test_float_2x3():
    assert ft([[1.5, -2.25, 3], [10.125, 0.5, -7]], 'torch.FloatTensor', np.float32) == (
        '  1.5000  -2.2500   3.0000\n'
        ' 10.1250   0.5000  -7.0000\n'
        '[torch.FloatTensor of size 2x3]\n')


def test_float_1d():
    assert ft([0.5, 1.25, -2.75], 'torch.FloatTensor', np.float32) == (
        ' 0.5000\n 1.2500\n-2.7500\n[torch.FloatTensor of size 3]\n')


def test_cuda_footer():  # cutorch reuses the CPU __tostring__, which prints torch.typename(self)
    assert ft(np.ones((2, 3)), 'torch.CudaTensor', np.float32) == (
        ' 1  1  1\n 1  1  1\n[torch.CudaTensor of size 2x3]\n')


# -- shared scale line, printed with '%g' ----------------------------------------------------------------------
def test_scale_small_2d():
    assert ft([[0.001, 0.002, 0.0035], [-0.0005, 0.0012, 0.004]]) == (
        '0.001 *\n'
        '  1.0000  2.0000  3.5000\n'
        ' -0.5000  1.2000  4.0000\n'
        '[torch.DoubleTensor of size 2x3]\n')


def test_scale_1e_05_1d():
    assert ft([1.5e-5, 2.5e-5]) == '1e-05 *\n 1.5000\n 2.5000\n[torch.DoubleTensor of size 2]\n'


def test_scale_large_1d():  # 10^5 prints as '100000' under %g
    assert ft([123456.7, 234567.25]) == '100000 *\n 1.2346\n 2.3457\n[torch.DoubleTensor of size 2]\n'


def test_scale_1e_06_2d():
    assert ft([[1234567.8, -9876543.2]]) == '1e+06 *\n  1.2346 -9.8765\n[torch.DoubleTensor of size 1x2]\n'


def test_scientific_when_range_wide():  # expMax - expMin > 4
    assert ft([[0.00015, 12345.6], [-3.25, 1]]) == (
        ' 1.5000e-04  1.2346e+04\n'
        '-3.2500e+00  1.0000e+00\n'
        '[torch.DoubleTensor of size 2x2]\n')


# -- wrapping at 80 characters ------------------------------------------------------------------------------
def test_wide_matrix_wraps():  # '%8.4f': floor(80/9) = 8 columns per block
    x = (np.arange(60).reshape(2, 30) + 1) * 0.25
    assert ft(x) == (
        'Columns 1 to 8\n'
        '  0.2500   0.5000   0.7500   1.0000   1.2500   1.5000   1.7500   2.0000\n'
        '  7.7500   8.0000   8.2500   8.5000   8.7500   9.0000   9.2500   9.5000\n'
        '\n'
        'Columns 9 to 16\n'
        '  2.2500   2.5000   2.7500   3.0000   3.2500   3.5000   3.7500   4.0000\n'
        '  9.7500  10.0000  10.2500  10.5000  10.7500  11.0000  11.2500  11.5000\n'
        '\n'
        'Columns 17 to 24\n'
        '  4.2500   4.5000   4.7500   5.0000   5.2500   5.5000   5.7500   6.0000\n'
        ' 11.7500  12.0000  12.2500  12.5000  12.7500  13.0000  13.2500  13.5000\n'
        '\n'
        'Columns 25 to 30\n'
        '  6.2500   6.5000   6.7500   7.0000   7.2500   7.5000\n'
        ' 13.7500  14.0000  14.2500  14.5000  14.7500  15.0000\n'
        '[torch.DoubleTensor of size 2x30]\n')


def test_exactly_full_line_does_not_wrap():  # '%2d': 80/3 = 26 columns fit, 27 wrap
    assert 'Columns' not in ft(np.ones((1, 26)))
    assert ft(np.ones((1, 27))) == (
        'Columns 1 to 26\n' + ' 1' + '  1' * 25 + '\n\nColumns 27 to 27\n 1\n[torch.DoubleTensor of size 1x27]\n')


# -- >2-D: slices headed (i,j,.,.) with Torch's 1-based indices, first index running fastest -----------------
def test_3d():
    assert ft(np.arange(1, 13).reshape(2, 2, 3)) == (
        '(1,.,.) = \n'
        '   1   2   3\n'
        '   4   5   6\n'
        '\n'
        '(2,.,.) = \n'
        '   7   8   9\n'
        '  10  11  12\n'
        '[torch.DoubleTensor of size 2x2x3]\n')


def test_4d_order():
    assert ft(np.arange(1, 9).reshape(2, 2, 1, 2)) == (
        '(1,1,.,.) = \n  1  2\n'
        '\n(2,1,.,.) = \n  5  6\n'
        '\n(1,2,.,.) = \n  3  4\n'
        '\n(2,2,.,.) = \n  7  8\n'
        '[torch.DoubleTensor of size 2x2x1x2]\n')


def test_3d_scale_shared_and_indented():
    assert ft([[[0.0015, 0.0025], [0.0035, -0.0045]]]) == (
        '(1,.,.) = \n'
        ' 0.001 *\n'
        '   1.5000  2.5000\n'
        '   3.5000 -4.5000\n'
        '[torch.DoubleTensor of size 1x2x2]\n')


def test_3d_format_from_all_slices():  # slice 1 alone would be '%2d'; slice 2 forces '%3d'
    assert ft([[[1, 2]], [[3, 100]]]) == (
        '(1,.,.) = \n    1    2\n\n(2,.,.) = \n    3  100\n[torch.DoubleTensor of size 2x1x2]\n')


def test_3d_wraps_with_indent():  # floor((80-1)/9) = 8; later 'Columns' headers are not indented
    x = (np.arange(24).reshape(1, 2, 12) + 1) * 0.5
    assert ft(x) == (
        '(1,.,.) = \n'
        ' Columns 1 to 8\n'
        '   0.5000   1.0000   1.5000   2.0000   2.5000   3.0000   3.5000   4.0000\n'
        '   6.5000   7.0000   7.5000   8.0000   8.5000   9.0000   9.5000  10.0000\n'
        '\n'
        'Columns 9 to 12\n'
        '   4.5000   5.0000   5.5000   6.0000\n'
        '  10.5000  11.0000  11.5000  12.0000\n'
        '[torch.DoubleTensor of size 1x2x12]\n')


# -- empty, NaN, inf ----------------------------------------------------------------------------------------
def test_empty():
    assert ft([]) == '[torch.DoubleTensor with no dimension]\n'
    assert ft(np.zeros((2, 0)), 'torch.FloatTensor', np.float32) == '[torch.FloatTensor with no dimension]\n'


def test_nan_falls_back_to_percent_f_without_wrapping():
    assert ft([1, np.nan, 2.5]) == '1.000000\nnan\n2.500000\n[torch.DoubleTensor of size 3]\n'
    out = ft(np.full((1, 20), np.nan))
    assert out == ' '.join(['nan'] * 20) + '\n[torch.DoubleTensor of size 1x20]\n'


def test_inf_is_integer_mode_with_e_format():
    assert ft([1, np.inf]) == ' 1.0000e+00\n        inf\n[torch.DoubleTensor of size 2]\n'


# -- storages ---------------------------------------------------------------------------------------------
def test_storage():
    assert format_storage(np.arange(1, 6, dtype=np.float64), 'torch.DoubleStorage') == (
        ' 1\n 2\n 3\n 4\n 5\n[torch.DoubleStorage of size 5]\n')


def test_doc_char_storage():  # doc: storage.md, CharStorage():string("blah blah")
    x = np.frombuffer(b'blah blah', dtype=np.int8)
    assert format_storage(x, 'torch.CharStorage') == (
        '  98\n 108\n  97\n 104\n  32\n  98\n 108\n  97\n 104\n[torch.CharStorage of size 9]\n')


def test_storage_float_and_scale_and_empty():
    assert format_storage(np.array([0.5, 1.25], np.float32), 'torch.FloatStorage') == (
        ' 0.5000\n 1.2500\n[torch.FloatStorage of size 2]\n')
    assert format_storage(np.array([0.001, 0.002]), 'torch.DoubleStorage') == (
        '0.001 *\n 1.0000\n 2.0000\n[torch.DoubleStorage of size 2]\n')
    assert format_storage(np.array([], np.float64), 'torch.DoubleStorage') == '[torch.DoubleStorage of size 0]\n'


def test_large_tensor_is_fast():
    x = np.random.RandomState(0).randn(1000, 1000).astype(np.float32)
    t0 = time.perf_counter()
    out = format_tensor(x, 'torch.FloatTensor')
    assert time.perf_counter() - t0 < 5
    assert out.endswith('[torch.FloatTensor of size 1000x1000]\n')
    assert out.count('Columns') == 167  # randn spans > 4 decades: '%11.4e', 80 // 12 = 6 columns per block
