"""torch.CmdLine, torch.Timer, torch.DiskFile/MemoryFile, torch.Tester/TestSuite, torch.class_, torch.isTypeOf,
torch.type, torch.pointer: behaviour as torch7's CmdLine.lua, Timer.c, THDiskFile.c/THMemoryFile.c/File.lua,
Tester.lua and init.lua."""
import builtins
import struct
import time

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py.serialization import classes, t7
from luatorch_py.serialization.t7 import OBJECT_CLASSES


# -- CmdLine ---------------------------------------------------------------------------------------------------
def make_cmd():
    cmd = torch.CmdLine()
    cmd.text('Training')
    cmd.option('-lr', 0.1, 'learning rate')
    cmd.option('-epochs', 5, 'epochs')
    cmd.option('-cuda', False, 'use CUDA')
    cmd.option('-name', 'run', 'a name')
    cmd.argument('-data', 'training file')
    return cmd


def test_cmdline_parse():
    cmd = make_cmd()
    opt = cmd.parse(['-lr', '0.01', '-cuda', 'train.t7', '-epochs', '12'])
    assert opt.lr == 0.01 and opt['lr'] == 0.01 and opt.epochs == 12 and isinstance(opt.epochs, int)
    assert opt.cuda is True and opt.name == 'run' and opt.data == 'train.t7'
    assert cmd.default() == {'lr': 0.1, 'epochs': 5, 'cuda': False, 'name': 'run'}
    with pytest.raises(AttributeError, match='no option'):
        opt.missing


def test_cmdline_errors_exit(capsys):
    cmd = make_cmd()
    for bad, msg in ((['-lr', 'x', 'd'], 'invalid type for option -lr (should be number)'),
                     ([], 'not enough arguments'), (['a', 'b'], 'invalid argument: b'),
                     (['d', '-lr'], 'missing argument for option -lr')):
        with pytest.raises(SystemExit) as e:
            cmd.parse(bad)
        assert e.value.code == 1
        assert msg in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cmd.parse(['-h'])
    assert e.value.code == 0
    with pytest.raises(ValueError, match='no default'):
        cmd.option('-x', None)
    with pytest.raises(ValueError, match='wrong default type'):
        cmd.option('-y', 1, 'y', 'string')


def test_cmdline_numbers_are_luas(capsys):
    cmd = make_cmd()
    assert cmd.parse(['-lr', ' 2.5e-1 ', 'd']).lr == 0.25
    assert cmd.parse(['-epochs', '0x10', 'd']).epochs == 16
    # Python's float and int take '1_000' and non-ASCII digits; Lua's tonumber gives nil: an invalid type
    for text in ('1_000', '\u0661\u0662'):
        with pytest.raises(SystemExit) as e:
            cmd.parse(['-epochs', text, 'd'])
        assert e.value.code == 1
        assert 'invalid type for option -epochs (should be number)' in capsys.readouterr().err


def test_cmdline_string_writes_numbers_as_lua_tostring():
    from luatorch_py.utils import lua_tostring
    assert [lua_tostring(v) for v in (2.0, 0.1, 99999999999999.0, 1e14, 123456789012345.0, -0.0, 1e-20)] == \
        ['2', '0.1', '99999999999999', '1e+14', '1.2345678901234e+14', '-0', '1e-20']
    cmd = make_cmd()
    assert cmd.string('exp', cmd.parse(['-lr', '1e14', 'd']), {}) == 'exp,data=d,lr=1e+14'


def test_cmdline_help_layout(capsys):
    make_cmd().help()
    out = capsys.readouterr().out.splitlines()
    assert out == ['Usage: [options] <data>', 'Training',
                   '  -lr     learning rate [0.1]', '  -epochs epochs [5]', '  -cuda   use CUDA [false]',
                   '  -name   a name [run]', '  <data>  training file']


def test_cmdline_string_and_log(tmp_path, capsys):
    cmd = make_cmd()
    opt = cmd.parse(['-lr', '0.5', '-cuda', 'd.t7'])
    assert cmd.string('exp', opt, {}) == 'exp,data=d.t7,cuda=t,lr=0.5'
    assert cmd.string('exp', opt, {'cuda': True}) == 'exp,data=d.t7,lr=0.5'
    log = tmp_path / 'log.txt'
    old = builtins.print
    cmd.log(str(log), {'lr': 0.5})
    try:
        print('epoch', 1, 0.25)
    finally:
        cmd.unlog()
    assert builtins.print is old
    lines = log.read_text().splitlines()
    # Lua joins the parts and the newline with spaces: each line ends with ' '
    assert lines[0].startswith('[program started on ') and lines[1] == '[command line arguments] '
    assert lines[2:] == ['lr 0.5 ', '[----------------------] ', 'epoch 1 0.25 ']
    assert 'epoch 1 0.25' in capsys.readouterr().out


# -- Timer --------------------------------------------------------------------------------------------------------
def test_timer():
    t = torch.Timer()
    time.sleep(0.02)
    t.stop()
    a = t.time()
    assert set(a) == {'real', 'user', 'sys'} and a['real'] >= 0.015
    time.sleep(0.02)
    assert t.time() == a                                  # stopped: time does not move
    t.resume()
    time.sleep(0.01)
    assert t.time()['real'] >= a['real'] + 0.008
    assert t.reset() is t and t.time()['real'] < 0.01
    t0 = t.time()['user']
    s = 0
    for i in range(300000):
        s += i
    assert t.time()['user'] > t0


def test_timer_prints_its_status_as_lua():
    t = torch.Timer()
    assert str(t) == 'torch.Timer [status: running]'
    assert str(t.stop()) == 'torch.Timer [status: stopped]'


# -- File -------------------------------------------------------------------------------------------------------------
def test_diskfile_ascii_numbers_strings(tmp_path):
    p = tmp_path / 'f.txt'
    f = torch.DiskFile(str(p), 'w')
    assert f.writeInt(3) == 1 and f.writeDouble(0.1) == 1
    assert f.writeFloat(torch.FloatStorage([1, 2.5, 3])) == 3
    f.writeLong(-7)
    f.writeString('hello\nworld')
    f.close()
    assert p.read_bytes() == b'3\n0.10000000000000001\n1 2.5 3\n-7\nhello\nworld'
    with pytest.raises(ValueError, match='closed'):
        f.writeInt(1)
    f = torch.DiskFile(str(p))
    assert f.readInt() == 3 and f.readDouble() == 0.1
    s = f.readFloat(3)
    assert s.type() == 'torch.FloatStorage' and s.tolist() == [1, 2.5, 3]
    assert f.readLong() == -7 and f.readString('*l') == 'hello' and f.readString('*a') == 'world'
    with pytest.raises(EOFError, match='read error'):
        f.readInt()
    f.quiet()
    assert f.readInt() == 0 and f.hasError()
    f.clearError()
    assert not f.hasError()
    with pytest.raises(ValueError, match='write in a read-only'):
        f.writeInt(1)
    f.close()
    with torch.DiskFile(str(p), 'r') as g:
        assert g.readInt() == 3
    assert not g.isOpened()
    assert torch.DiskFile(str(tmp_path / 'none' / 'x'), 'r', True) is None
    with pytest.raises(OSError, match='cannot open'):
        torch.DiskFile(str(tmp_path / 'none' / 'x'))


def test_file_tostring_is_torch7s(tmp_path):
    # DiskFile.c / MemoryFile.c __tostring__: status and mode letters, a space where r or w is missing
    p = str(tmp_path / 'f.txt')
    f = torch.DiskFile(p, 'w')
    assert str(f) == f'torch.DiskFile on <{p}> [status: open -- mode  w]'
    f.close()
    assert repr(f) == f'torch.DiskFile on <{p}> [status: closed -- mode  w]'
    assert str(torch.DiskFile(p, 'rw')) == f'torch.DiskFile on <{p}> [status: open -- mode rw]'
    m = torch.MemoryFile()
    assert str(m) == 'torch.MemoryFile [status: open -- mode: rw]'
    m.close()
    assert str(m) == 'torch.MemoryFile [status: closed -- mode: rw]'
    assert str(torch.MemoryFile('r')) == 'torch.MemoryFile [status: open -- mode: r ]'


def test_diskfile_binary_types_and_positions(tmp_path):
    p = str(tmp_path / 'b.bin')
    f = torch.DiskFile(p, 'w').binary()
    f.writeInt(7)
    f.writeShort(torch.ShortStorage([1, -2]))
    f.writeDouble(2.5)
    f.writeByte(255)
    f.writeChar(-3)
    f.close()
    with open(p, 'rb') as fh:
        assert fh.read() == struct.pack('<ihhdBb', 7, 1, -2, 2.5, 255, -3)
    f = torch.DiskFile(p, 'r').binary()
    st = torch.IntStorage(1)
    assert f.readInt(st) == 1 and st[0] == 7
    assert f.position() == 4                          # 0-based (Lua: 5)
    f.seek(16)
    assert f.readByte() == 255 and f.readChar() == -3
    f.seek(4)
    assert f.readShort(2).tolist() == [1, -2]
    f.seekEnd()
    assert f.position() == 18
    f.close()
    g = torch.DiskFile(p, 'rw').binary()              # rw keeps the contents
    g.seekEnd()
    g.writeInt(9)
    g.seek(18)
    assert g.readInt() == 9
    g.bigEndianEncoding()
    g.seek(0)
    assert g.readInt() == 7 << 24
    g.close()


def test_objects_roundtrip_with_references(tmp_path):
    p = str(tmp_path / 'o.t7')
    t = torch.DoubleTensor([[1, 2], [3, 4]])
    f = torch.DiskFile(p, 'w').binary()
    f.writeObject({'a': t, 'n': 3, 's': 'x'})
    f.writeObject(t)                                  # written before: only a reference
    f.writeObject([True, None, 2.5])
    f.close()
    f = torch.DiskFile(p).binary()
    d = f.readObject()
    t2 = f.readObject()
    assert t2 is d['a'] and t2.tolist() == [[1, 2], [3, 4]] and d['n'] == 3 and d['s'] == 'x'
    assert f.readObject() == [True, None, 2.5]
    f.close()
    # one object per file is what torch.save writes, byte for byte (binary and ascii)
    for mode in ('binary', 'ascii'):
        m = torch.MemoryFile()
        getattr(m, mode)()
        m.writeObject({'w': t, 'k': [1, 2]})
        raw = m.storage().numpy().tobytes()
        assert raw[-1:] == b'\0' and raw[:-1] == torch.serialize({'w': t, 'k': [1, 2]}, mode)
        m.seek(0)
        back = m.readObject()
        assert back['w'].tolist() == t.tolist() and back['k'] == [1, 2]


def test_objects_follow_long_size_and_byte_order():
    # torch.load(f, 'b32') is DiskFile:longSize(4):readObject() in Torch7: the file's longs (tensor geometry,
    # LongStorage elements) are int32; and after bigEndianEncoding() every number of an object is big-endian.
    # readObject/writeObject used 8-byte little-endian longs whatever the file's settings.
    t = torch.LongTensor([[1, -2], [3, 4]]).t()
    m = torch.MemoryFile().binary().longSize(4)
    m.writeObject(t)
    raw = m.storage().numpy().tobytes()[:-1]
    assert len(raw) == len(torch.serialize(t)) - 4 * 10    # 2 sizes, 2 strides, offset, storage size, 4 elements
    back = torch.deserialize(raw, 'b32')
    assert back.tolist() == [[1, 3], [-2, 4]] and back.stride() == t.stride()
    r = torch.MemoryFile(m.storage(), 'r').binary().longSize(4)
    assert r.readObject().tolist() == [[1, 3], [-2, 4]]
    m = torch.MemoryFile().binary().bigEndianEncoding()
    m.writeObject({'x': 2.5, 't': t})
    raw = m.storage().numpy().tobytes()[:-1]
    assert raw[:8] == struct.pack('>ii', 3, 1)
    r = torch.MemoryFile(m.storage(), 'r').binary().bigEndianEncoding()
    back = r.readObject()
    assert back['x'] == 2.5 and back['t'].tolist() == [[1, 3], [-2, 4]] and back['t'].stride() == t.stride()


def test_read_object_failures_are_t7_errors():
    # torch.deserialize turns whatever a damaged file raises past the checks into a T7Error; readObject let it
    # through as is (here a class's own error; an ascii integer of 5000 digits gave Python's int() ValueError)
    class Broken:
        def __t7_setstate__(self, fields, ctx):
            raise IndexError('no such part')

        def __t7_getstate__(self):
            return {'a': 1}
    t7.registerObjectClass('test.Broken', Broken)
    try:
        data = torch.serialize(Broken())
        m = torch.MemoryFile().binary()
        m.writeString(data)
        m.seek(0)
        with pytest.raises(torch.T7Error, match=r'MemoryFile.readObject: cannot load \(IndexError: no such part\)'):
            m.readObject()
        assert m.position() == 0
    finally:
        del OBJECT_CLASSES['test.Broken']
    m = torch.MemoryFile()
    m.writeString(b'3\n' + b'9' * 5000 + b'\n')
    m.seek(0)
    with pytest.raises(torch.T7Error, match=r'a reference index .*\(5000 characters\) out of range'):
        m.readObject()


def test_lua_written_files_read_and_rewritten(shared_dir):
    # data.t7 / data_ascii.t7: written by Lua's torch.save, i.e. DiskFile(...):writeObject(obj)
    for name, mode in (('data.t7', 'binary'), ('data_ascii.t7', 'ascii')):
        path = f'{shared_dir}/fixtures/t7/{name}'
        with open(path, 'rb') as fh:
            raw = fh.read()
        f = getattr(torch.DiskFile(path), mode)()
        obj = f.readObject()
        assert f.position() == len(raw)                 # the whole object, nothing more
        with pytest.raises(torch.T7Error):
            f.readObject()
        f.close()
        m = getattr(torch.MemoryFile(), mode)()
        m.writeObject(obj)
        assert m.storage().numpy().tobytes()[:-1] == raw   # written back byte for byte as Lua wrote it


def test_memoryfile_from_storage_and_modes():
    m = torch.MemoryFile('w')
    m.writeInt(42)
    s = m.storage()
    assert s.type() == 'torch.CharStorage' and bytes(s.numpy().astype(np.uint8)) == b'42\n\0'
    r = torch.MemoryFile(s, 'r')
    assert r.readInt() == 42
    with pytest.raises(ValueError, match='write in a read-only'):
        r.writeInt(1)
    with pytest.raises(ValueError, match='terminated by 0'):
        torch.MemoryFile(torch.CharStorage([65]))
    with pytest.raises(ValueError, match="'r', 'w' or 'rw'"):
        torch.MemoryFile('x')
    n = torch.MemoryFile().noAutoSpacing()
    n.writeInt(torch.IntStorage([1, 2]))
    assert n.storage().numpy().tobytes() == b'12\0'      # Torch7: no spacing at all


def test_memoryfile_seek_past_the_end_is_torch7s_error():
    # THMemoryFile_seek: "unable to seek at position", or with quiet() hasError and the position unchanged (a seek
    # past the end followed by a write used to pad the file with zero bytes)
    m = torch.MemoryFile()
    m.writeInt(3)
    with pytest.raises(ValueError, match='unable to seek at position 100'):
        m.seek(100)
    m.quiet().seek(100)
    assert m.hasError() and m.position() == 2
    m.writeInt(4)
    assert m.storage().numpy().tobytes() == b'3\n4\n\0'
    m.seek(4)                                   # the end itself is fine, as Torch7
    assert m.position() == 4


def test_ascii_non_number_is_an_error_or_quiet_partial_read():
    # Torch7's fscanf stops at a token that is not a number: an error, or (quiet) hasError and the numbers before
    m = torch.MemoryFile()
    m.writeString('1 2 abc 4\n')
    m.seek(0)
    with pytest.raises(ValueError, match="readInt: expected an integer within 64 bits, got b'abc'"):
        m.readInt(4)
    assert m.hasError()
    m.clearError().quiet().seek(0)
    got = m.readInt(4)
    assert got.tolist() == [1, 2] and m.hasError() and m.position() == 3
    m.clearError().seek(4)
    assert m.readInt() == 0 and m.hasError() and m.position() == 4
    big = torch.MemoryFile()
    big.writeString('99999999999999999999999\n')
    big.seek(0)
    with pytest.raises(ValueError, match='readLong: expected an integer within 64 bits'):   # was OverflowError
        big.readLong()


def test_write_checks_what_it_is_given():
    m = torch.MemoryFile()
    with pytest.raises(TypeError, match='writeString: expected a string'):
        m.writeString(5)                        # was five zero bytes
    with pytest.raises(ValueError, match='writeLong: 1180591620717411303424 is out of range'):
        m.writeLong(2 ** 70)                    # was numpy's "too large to convert to C long"
    assert m.writeString(b'ab') == 2 and m.storage().numpy().tobytes() == b'ab\0'
    with pytest.raises(TypeError, match='deserializeFromStorage: expected a CharStorage or a ByteStorage, got str'):
        torch.deserializeFromStorage('abc')     # was AttributeError: 'str' object has no attribute '_data'
    assert torch.deserializeFromStorage(torch.serializeToStorage({'k': 2})) == {'k': 2}


# -- Tester ---------------------------------------------------------------------------------------------------
def test_tester_reports_and_raises(capsys):
    tester = torch.Tester()
    suite = torch.TestSuite()

    @suite.add
    def good():
        tester.asserteq(2, 2)
        tester.eq(torch.ones(2), torch.DoubleTensor([1, 1]))
        tester.eq({'a': [1, 2]}, {'a': [1, 2]})
        tester.assertError(lambda: 1 / 0)
        tester.assertalmosteq(1.0, 1.05, 0.1)
        tester.assertTensorEq(torch.ones(2), torch.ones(2, 1))   # Lua's backwards-compatible dims (a warning)

    def bad():
        tester.asserteq(2, 3, 'two')
        tester.eq(torch.ones(2), torch.DoubleTensor([1, 1.5]), 0.1)
        getattr(tester, 'assert')(False)

    def boom():
        raise RuntimeError('boom')
    tester.add(suite).add(bad).add(boom, 'explodes')
    with pytest.raises(AssertionError, match='An error was found while running tests!'):
        tester.run()
    out = capsys.readouterr().out
    assert 'Running 3 tests' in out and '[PASS]' in out and '[FAIL]' in out and '[ERROR]' in out
    assert 'Completed 9 asserts in 3 tests with 1 failure and 1 error and 1 warning' in out
    assert 'EQ failed: 2 ~= 3' in out and 'TensorEQ(==) violation: max diff=0.5, tolerance=0.1' in out
    assert 'BOOL violation condition=false' in out and 'RuntimeError: boom' in out
    t2 = torch.Tester()
    t2.add(good, 'good')
    assert t2.run('go') == 0
    with pytest.raises(ValueError, match='already exists'):
        t2.add(good, 'good')
    with pytest.raises(ValueError, match='already defined'):
        suite.good = good


def test_tester_eq_messages():
    t = torch.Tester()
    t.setRethrowErrors(True)
    with pytest.raises(AssertionError, match='different types'):
        t.eq(torch.ones(2), torch.ones(2).float())
    with pytest.raises(AssertionError, match=r'At table location a\.1: EQ failed: 2 ~= 3'):
        t.eq({'a': [1, 2]}, {'a': [1, 3]})
    with pytest.raises(AssertionError, match='values have different types'):
        t.eq(1, '1')
    assert t.ne(1, 2) and t.assertTableNe([1], [2]) and t.assertlt(1, 2) and t.assertge(2, 2)


def test_tester_compares_as_lua_does():
    t = torch.Tester()
    t.setRethrowErrors(True)
    # a dict and a list are both Lua tables: compared by keys, not a TypeError
    with pytest.raises(AssertionError, match="Entry a missing in second table"):
        t.eq({'a': 1}, [1])
    # LongTensors differ by 1 beyond 2**53: Lua's integer difference sees it (float64 rounds it away)
    with pytest.raises(AssertionError, match=r'TensorEQ\(==\) violation: max diff=1, tolerance=0'):
        t.assertTensorEq(torch.LongTensor([2 ** 53]), torch.LongTensor([2 ** 53 + 1]))
    assert t.assertTensorNe(torch.LongTensor([2 ** 53]), torch.LongTensor([2 ** 53 + 1]))
    # numpy scalars are numbers: 250 - 5 does not wrap around to 11 in uint8
    with pytest.raises(AssertionError, match='EQ failed: 5 ~= 250 with tolerance=20'):
        t.eq(np.uint8(5), np.uint8(250), 20)
    with pytest.raises(AssertionError, match='ALMOST_EQ failed: 5 ~= 250 with tolerance=20'):
        t.assertalmosteq(np.uint8(5), np.uint8(250), 20)
    # asserteq/assertne on tensors: Lua's == (the same object), not an elementwise comparison
    a = torch.DoubleTensor([1, 2])
    assert t.asserteq(a, a) and t.assertne(a, a.clone())
    with pytest.raises(AssertionError, match='EQ failed:'):
        t.asserteq(a, a.clone())


@pytest.mark.gpu
def test_tester_compares_cuda_tensors():
    t = torch.Tester()
    t.setRethrowErrors(True)
    a = torch.FloatTensor([1, 2, 3]).cuda()
    assert t.assertTensorEq(a, torch.FloatTensor([1, 2, 3]).cuda()) and t.eq(a, a.clone())
    with pytest.raises(AssertionError, match=r'TensorEQ\(==\) violation: max diff=0\.5, tolerance=0\.1'):
        t.assertTensorEq(a, torch.FloatTensor([1, 2.5, 3]).cuda(), 0.1)
    assert t.assertTensorNe(a, torch.FloatTensor([1, 2.5, 3]).cuda())


# -- class, type, isTypeOf, pointer ---------------------------------------------------------------------------------
@pytest.fixture
def scratch_classes():
    yield
    for name in ('utest.Animal', 'utest.Dog'):
        OBJECT_CLASSES.pop(name, None)
    classes.registry().pop('nn.UtestLayer', None)


def test_class_and_save_load(tmp_path, scratch_classes):
    Animal, parent = torch.class_('utest.Animal')
    assert parent is None and getattr(torch, 'class') is torch.class_

    def init(self, legs):
        self.legs = legs
    setattr(Animal, '__init', init)               # Lua's function Animal:__init(legs)
    Animal.speak = lambda self: 'generic'
    Dog, base = torch.class_('utest.Dog', 'utest.Animal')
    Dog.speak = lambda self: 'woof'
    d = Dog(4)
    assert base is Animal and d.legs == 4 and d.speak() == 'woof'
    assert torch.type(d) == 'utest.Dog' and torch.isTypeOf(d, 'utest.Animal') and torch.isTypeOf(d, Dog)
    assert not torch.isTypeOf(Animal(2), 'utest.Dog')
    d.w = torch.FloatTensor([1, 2])
    p = str(tmp_path / 'dog.t7')
    torch.save(p, d)
    e = torch.load(p)
    assert type(e) is Dog and e.legs == 4 and e.w.tolist() == [1, 2]
    with pytest.raises(ValueError, match='already exists'):
        torch.class_('utest.Dog')
    with pytest.raises(ValueError, match='unknown parent'):
        torch.class_('utest.Cat', 'utest.Nothing')
    Layer, mod = torch.class_('nn.UtestLayer', 'nn.Module')
    assert mod is torch.nn.Module and torch.isTypeOf(Layer(), 'nn.Module')
    torch.save(str(tmp_path / 'layer.t7'), Layer())
    assert type(torch.load(str(tmp_path / 'layer.t7'))) is Layer


def test_type_istypeof_pointer():
    lin = torch.nn.Linear(2, 3)
    assert [torch.type(v) for v in (torch.ones(1).float(), 3, 2.5, 's', {}, [], None, True, print, lin)] == \
        ['torch.FloatTensor', 'number', 'number', 'string', 'table', 'table', 'nil', 'boolean', 'function',
         'nn.Linear']
    # numpy's bool is a boolean (it said 'number', so Tester.eq(np.bool_(True), True) failed on the types)
    assert torch.type(np.bool_(True)) == 'boolean' and torch.type(np.float32(1)) == torch.type(np.int64(1)) == 'number'
    assert torch.isTypeOf(lin, 'nn.Linear') and torch.isTypeOf(lin, 'nn.Module')
    assert torch.isTypeOf(lin, torch.nn.Module)
    assert not torch.isTypeOf(lin, 'Linear')             # a plain name must match whole ...
    assert torch.isTypeOf(lin, 'nn%..*ear') and torch.isTypeOf(lin, '^nn%.Lin')    # ... a pattern anywhere
    assert torch.isTypeOf(torch.ones(2), 'torch.DoubleTensor') and not torch.isTypeOf(3, 'number')
    x = torch.ones(2)
    assert torch.pointer(x) == torch.pointer(x) and torch.pointer(x) != torch.pointer(x.view(2))
