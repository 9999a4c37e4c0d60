"""``torch.CmdLine``: Torch7's command-line parser (torch7's CmdLine.lua), with its help layout and messages.

    cmd = torch.CmdLine()
    cmd.text('Train a network')
    cmd.option('-lr', 0.1, 'learning rate')
    cmd.option('-cuda', False, 'use CUDA')          # a boolean option is a switch: given, it flips the default
    cmd.argument('-data', 'training file')
    opt = cmd.parse(sys.argv[1:])                     # opt.lr, opt['lr'], opt.data

Lua passes the script's ``arg`` table; Python passes the arguments without the program name.  As Lua, a bad command
line prints the message and the help, then exits (SystemExit 1); -h, -help and --help print the help and exit 0.
"""
import builtins
import sys
import time

from .utils import lua_tostring as _tostring

__all__ = ['CmdLine']


def _strip(key):
    return key.lstrip('-')


def _lua_type(v):
    if isinstance(v, bool):
        return 'boolean'
    if isinstance(v, (int, float)):
        return 'number'
    if isinstance(v, str):
        return 'string'
    return type(v).__name__


class Params(dict):
    """The parsed options and arguments: ``opt.lr`` and ``opt['lr']``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no option or argument named {name!r} (have: {', '.join(self)})") from None

    def __setattr__(self, name, value):
        self[name] = value


class CmdLine:
    """``torch.CmdLine([argseparator=','], [keyseparator='='])``."""

    def __init__(self, argseparator=',', keyseparator='='):
        self.argseparator = argseparator
        self.keyseparator = keyseparator
        self.options = {}
        self.arguments = []
        self.helplines = []
        self.dateformat = None
        self.silentio = False
        self._print = None

    def silent(self):
        """After log(): print to the log file only."""
        self.silentio = True

    def addTime(self, name=None, format='%Y-%m-%d %H:%M:%S'):
        """Prefix each logged line with the date (``time.strftime`` format) and ``[name]: ``."""
        if not isinstance(format, str):
            raise TypeError('CmdLine.addTime: Argument has to be string')
        self.dateformat = format + ('' if name is None else f'[{name}]: ')

    def argument(self, key, help=None, type=None):
        """A positional argument, stored under ``key`` without its dashes; ``type`` 'string' (or None: any)."""
        self.arguments.append({'key': key, 'help': help, 'type': type})
        self.helplines.append(self.arguments[-1])

    def option(self, key, default, help=None, type=None):
        """An option ``key`` ('-lr') with its default (number, string or boolean); its type is the default's."""
        if default is None:
            raise ValueError(f"CmdLine.option: option {key} has no default value")
        type = type or _lua_type(default)
        if _lua_type(default) != type:
            raise ValueError(f"CmdLine.option: option {key} has wrong default type value")
        self.options[key] = {'key': key, 'default': default, 'help': help, 'type': type}
        self.helplines.append(self.options[key])

    def text(self, txt=''):
        """A line of help text."""
        if not isinstance(txt, str):
            raise TypeError(f"CmdLine.text: expected a string, got {txt!r}")
        self.helplines.append(txt)

    def default(self):
        """The options' defaults, as parse returns them."""
        return Params({_strip(k): o['default'] for k, o in self.options.items()})

    def error(self, msg):
        print('')
        sys.stderr.write(msg)
        print('')
        self.help()
        sys.exit(1)

    def _read_option(self, params, args, i):
        key = args[i]
        option = self.options.get(key)
        if option is None:
            self.error('unknown option ' + key)
        if option['type'] == 'boolean':
            params[_strip(key)] = not option['default']
            return 1
        if i + 1 >= len(args):
            self.error('missing argument for option ' + key)
        value = args[i + 1]
        if option['type'] == 'number':
            value = self._number(value, option['default'])
        elif option['type'] not in (None, 'string'):
            self.error('unknown required option type ' + option['type'])
        if value is None:
            self.error(f"invalid type for option {key} (should be {option['type']})")
        params[_strip(key)] = value
        return 2

    @staticmethod
    def _number(s, default):
        """Lua's tonumber; an int when the default is an int and the text an integer."""
        if '_' in s or not s.isascii():
            return None         # Python's int/float accept '1_000' and non-ASCII digits, Lua's tonumber does not
        try:
            return int(s) if isinstance(default, int) else float(s)
        except ValueError:
            pass
        try:
            return float(s)
        except ValueError:
            pass
        try:
            return int(s, 16) if s.lower().startswith(('0x', '-0x')) else None
        except ValueError:
            return None

    def parse(self, args=None):
        """Parse the list of strings ``args`` (default ``sys.argv[1:]``): options and then the arguments in order.
        Returns Params (attribute and item access)."""
        args = list(sys.argv[1:] if args is None else args)
        params = self.default()
        n_arg = 0
        i = 0
        while i < len(args):
            a = args[i]
            if a in ('-help', '-h', '--help'):
                self.help(args)
                sys.exit(0)
            if a in self.options:
                i += self._read_option(params, args, i)
            else:
                n_arg += 1
                if n_arg > len(self.arguments):
                    self.error('invalid argument: ' + a)
                arg = self.arguments[n_arg - 1]
                if arg['type'] and arg['type'] != 'string':
                    self.error(f"invalid argument type for argument {arg['key']} (should be {arg['type']})")
                params[_strip(arg['key'])] = a
                i += 1
        if n_arg != len(self.arguments):
            self.error('not enough arguments')
        return params

    def string(self, prefix, params, ignore=None):
        """A name made of the arguments and the options that differ from their defaults (Lua's use: a directory
        per experiment): ``prefix,arg=value,...,opt=value`` with the options sorted; ``ignore`` maps names to
        leave out (True) or to keep even at their default (False)."""
        ignore = ignore or {}
        arguments, options = {}, []
        prefix = prefix or ''
        for k, v in params.items():
            if ignore.get(k):
                print('-- ignore option ' + k)
            elif '-' + k in self.options:
                if v != self.options['-' + k]['default'] or ignore.get(k) is False:
                    if isinstance(v, bool):
                        v = 't' if v else 'f'
                    options.append(k + self.keyseparator + _tostring(v))
            else:
                narg = None
                for j, a in enumerate(self.arguments):
                    if _strip(a['key']) == k:
                        narg = j
                if narg is not None:
                    arguments[narg] = k + self.keyseparator + _tostring(v)
                else:
                    print('WARNING: unknown option/argument: ' + k + ' IGNORING for DIRECTORY NAME')
        options.sort()
        s = self.argseparator.join(arguments[j] for j in sorted(arguments))
        s = self.argseparator.join(options) if s == '' else s + self.argseparator + self.argseparator.join(options)
        return prefix if s == '' else prefix + self.argseparator + s

    def log(self, file, params=None):
        """From now on, ``print`` also writes each line to ``file`` (a path, opened for writing, or an open text file),
        as Lua's CmdLine:log replaces print; then logs the start time and ``params``.  ``unlog()`` (not in Lua)
        puts the previous print back."""
        f = file if hasattr(file, 'write') else open(file, 'w')
        previous = self._print or builtins.print
        cmd = self

        def log_print(*args, **kwargs):
            if kwargs.get('file') not in (None, sys.stdout):
                return previous(*args, **kwargs)
            if not cmd.silentio:
                previous(*args, **kwargs)
            parts = [time.strftime(cmd.dateformat)] if cmd.dateformat else []
            parts += [_tostring(a) for a in args]
            f.write(' '.join(parts + ['\n']))
            f.flush()

        self._print = previous
        self._log_file = f
        builtins.print = log_print
        print('[program started on ' + time.strftime('%a %b %d %H:%M:%S %Y') + ']')
        print('[command line arguments]')
        for k, v in (params or {}).items():
            print(k, v)
        print('[----------------------]')

    def unlog(self):
        """Stop logging (Python only): restore the print that log() replaced."""
        if self._print is not None:
            builtins.print = self._print
            self._print = None

    def help(self, args=None):
        w = sys.stdout.write
        w('Usage: ')
        if args is not None:
            w(sys.argv[0] + ' ')
        w('[options]')
        for a in self.arguments:
            w(' <' + _strip(a['key']) + '>')
        w('\n')
        optsz = 0
        for o in self.helplines:
            if isinstance(o, dict):
                optsz = max(optsz, len(o['key']) if 'default' in o else len(_strip(o['key'])) + 2)
        for o in self.helplines:
            if isinstance(o, dict):
                w('  ')
                if 'default' in o:
                    w(o['key'].ljust(optsz))
                    if o['help']:
                        w(' ' + o['help'])
                    w(' [' + _tostring(o['default']) + ']')
                else:
                    w(('<' + _strip(o['key']) + '>').ljust(optsz))
                    if o['help']:
                        w(' ' + o['help'])
            else:
                w(o)
            w('\n')
