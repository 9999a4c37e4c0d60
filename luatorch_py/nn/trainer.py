"""nn.StochasticGradient: Torch7's simple trainer (plain SGD over a dataset, one example at a time)."""
from .module import TypedObject
from ..utils import lua_tostring


def _dataset_size(dataset):
    size = getattr(dataset, 'size', None)
    if callable(size):
        return int(size())
    try:
        return len(dataset)
    except TypeError:
        raise TypeError(f"nn.StochasticGradient.train: expected a dataset with size() (or len()) and dataset[i] -> "
                        f"(input, target), got a {type(dataset).__name__}") from None


def _example(dataset, i, n):
    """dataset[i] as (input, target), or an error naming the trainer, the 0-based index and what came."""
    try:
        example = dataset[i]
    except (KeyError, IndexError) as e:
        raise type(e)(f"nn.StochasticGradient.train: dataset[{i}] failed ({e!r}): examples are indexed 0 to {n - 1} "
                      f"here (Lua's datasets from 1)") from None
    try:
        return example, example[0], example[1]
    except (TypeError, KeyError, IndexError):
        raise TypeError(f"nn.StochasticGradient.train: dataset[{i}] should be an (input, target) pair, got a "
                        f"{type(example).__name__}") from None


def _hook(trainer, name):
    """trainer.<name> as Lua's self.<name> finds it: a field set on the trainer, else a subclass's method; both are
    called as hook(trainer, ...) (Lua's self.hookExample(self, example))."""
    hook = trainer.__dict__.get(name)
    return hook if hook is not None else getattr(type(trainer), name, None)


class StochasticGradient(TypedObject):
    """StochasticGradient(module, criterion): ``train(dataset)`` runs SGD with Torch7's fields ``learningRate``
    (0.01), ``learningRateDecay`` (0: the rate of epoch k is learningRate / (1 + k * decay), k counted as Torch7
    does), ``maxIteration`` (25 epochs; 0 runs forever), ``shuffleIndices`` (True), ``verbose`` (True), and the
    optional hooks ``hookExample(trainer, example)`` and ``hookIteration(trainer, iteration, currentError)``.

    ``dataset`` has ``size()`` (or ``len()``) and ``dataset[i]`` -> (input, target) for 0-based i (Lua's dataset
    is indexed from 1).  The order of an epoch is one ``torch.randperm(size)`` drawn from the global stream at the
    start (drawn even with shuffleIndices False, as Torch7); each example does forward, updateGradInput and
    ``accUpdateGradParameters(input, gradOutput, currentLearningRate)``.  Returns the last epoch's mean error (Lua
    returns nothing).  The hooks' ``iteration`` is Torch7's epoch count, from 1."""

    def __init__(self, module, criterion):
        self._init_type()
        self.learningRate = 0.01
        self.learningRateDecay = 0
        self.maxIteration = 25
        self.shuffleIndices = True
        self.module = module
        self.criterion = criterion
        self.verbose = True

    def train(self, dataset):
        from ..functions import randperm
        n = _dataset_size(dataset)
        if n <= 0:
            raise ValueError("nn.StochasticGradient.train: the dataset is empty")
        iteration = 1
        lr = self.learningRate
        module, criterion = self.module, self.criterion
        order = randperm(n).numpy().tolist()
        if not self.shuffleIndices:
            order = list(range(n))
        print("# StochasticGradient: training")
        while True:
            current = 0.0
            for t in range(n):
                example, input, target = _example(dataset, order[t], n)
                current += criterion.forward(module.forward(input), target)
                module.updateGradInput(input, criterion.updateGradInput(module.output, target))
                module.accUpdateGradParameters(input, criterion.gradInput, lr)
                hook = _hook(self, 'hookExample')
                if hook is not None:
                    hook(self, example)
            current /= n
            hook = _hook(self, 'hookIteration')
            if hook is not None:
                hook(self, iteration, current)
            if self.verbose:
                print("# current error = " + lua_tostring(current))    # Lua's .. writes %.14g
            iteration += 1
            lr = self.learningRate / (1 + iteration * self.learningRateDecay)
            if self.maxIteration > 0 and iteration > self.maxIteration:
                print("# StochasticGradient: you have reached the maximum number of iterations")
                print("# training error = " + lua_tostring(current))
                return current

    def __repr__(self):
        return self.__torch_name__
