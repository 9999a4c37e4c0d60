#!/usr/bin/env python3
"""Train a classifier on MNIST (or Fashion-MNIST: --data ../shared/datasets/fashion-mnist), Torch7 style.

Nets (--net):
  dense    View(784) - Linear(784,100) - ReLU - Linear(100,10) - LogSoftMax
  lenet    SpatialConvolution(1,20,5,5) - ReLU - SpatialMaxPooling(2,2) - SpatialConvolution(20,50,5,5) - ReLU -
           SpatialMaxPooling(2,2) - View(800) - Linear(800,500) - ReLU - Linear(500,10) - LogSoftMax
  convnet  Torch7's demo convnet: SpatialConvolutionMM(1,32,5,5) - Tanh - SpatialMaxPooling(3,3) -
           SpatialConvolutionMM(32,64,5,5) - Tanh - SpatialMaxPooling(2,2) - View(256) - Linear(256,200) - Tanh -
           Linear(200,10) - LogSoftMax
with ClassNLLCriterion, trained by optim.sgd over net:getParameters() (momentum, learning-rate decay, weight
decay), inputs normalized by the training set's pixel mean and standard deviation.

Prints a progress bar per epoch (running loss, images/s), then `epoch N: train loss L, test accuracy A`; at the end
the confusion matrix on the test set and `test accuracy: 0.9912` (a fraction).

Data-parallel over MPI: `mpirun -n 2 python scripts/mnist.py --distributed ...` (see docs/distributed.md). --batch
is then the global batch, split across the ranks, so the run takes the steps of a single process.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:          # run from a checkout without installing
    sys.path.insert(0, REPO)

import luatorch_py as torch      # noqa: E402
from luatorch_py import backend, cutorch, nn, optim, threads  # noqa: E402
from luatorch_py import distributed as dist  # noqa: E402
from luatorch_py.data import load_mnist, pixel_stats, Batches  # noqa: E402
from luatorch_py.data.shard import ShardedBatches  # noqa: E402

DEFAULT_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'datasets', 'mnist'))

# per-net defaults (each can be overridden on the command line)
DEFAULTS = {
    'dense': dict(epochs=20, batch=64, lr=0.05, momentum=0.9, lr_decay=1e-4, weight_decay=0.0),
    'lenet': dict(epochs=10, batch=64, lr=0.05, momentum=0.9, lr_decay=1e-4, weight_decay=5e-4),
    'convnet': dict(epochs=10, batch=64, lr=0.05, momentum=0.9, lr_decay=1e-4, weight_decay=5e-4),
}


def build(name):
    # View's setNumInputDims(3): a batch of ONE image (C x H x W per sample) stays a batch, as the last batch can be
    net = nn.Sequential()
    if name == 'dense':
        net.add(nn.View(784).setNumInputDims(3))
        net.add(nn.Linear(784, 100))
        net.add(nn.ReLU())
        net.add(nn.Linear(100, 10))
    elif name == 'lenet':
        net.add(nn.SpatialConvolution(1, 20, 5, 5))
        net.add(nn.ReLU())
        net.add(nn.SpatialMaxPooling(2, 2, 2, 2))
        net.add(nn.SpatialConvolution(20, 50, 5, 5))
        net.add(nn.ReLU())
        net.add(nn.SpatialMaxPooling(2, 2, 2, 2))
        net.add(nn.View(800).setNumInputDims(3))
        net.add(nn.Linear(800, 500))
        net.add(nn.ReLU())
        net.add(nn.Linear(500, 10))
    elif name == 'convnet':
        net.add(nn.SpatialConvolutionMM(1, 32, 5, 5))
        net.add(nn.Tanh())
        net.add(nn.SpatialMaxPooling(3, 3, 3, 3))
        net.add(nn.SpatialConvolutionMM(32, 64, 5, 5))
        net.add(nn.Tanh())
        net.add(nn.SpatialMaxPooling(2, 2, 2, 2))
        net.add(nn.View(64 * 2 * 2).setNumInputDims(3))
        net.add(nn.Linear(64 * 2 * 2, 200))
        net.add(nn.Tanh())
        net.add(nn.Linear(200, 10))
    else:
        raise ValueError(name)
    net.add(nn.LogSoftMax())
    return net


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default=DEFAULT_DATA,
                   help='directory with the four MNIST IDX files (default: ../shared/datasets/mnist beside the repo)')
    p.add_argument('--net', choices=sorted(DEFAULTS), default='lenet', help='the network (default lenet)')
    p.add_argument('--epochs', type=int, help='passes over the training set (default: 20 dense, 10 lenet/convnet)')
    p.add_argument('--batch', type=int, help='minibatch size (default 64)')
    p.add_argument('--lr', type=float, help='SGD learning rate (default 0.05)')
    p.add_argument('--momentum', type=float, help='SGD momentum (default 0.9)')
    p.add_argument('--lr-decay', type=float, help="optim.sgd's learningRateDecay (default 1e-4)")
    p.add_argument('--weight-decay', type=float,
                   help="optim.sgd's weightDecay (L2 penalty; default 5e-4 for lenet/convnet, 0 for dense)")
    p.add_argument('--seed', type=int, default=1, help='torch.manualSeed: initialization and shuffling (default 1)')
    p.add_argument('--threads', type=int, default=threads.available_cores(),
                   help="torch.setnumthreads: numpy's BLAS threads (default: the cores this process may use, "
                        '%(default)s here; 1 is often faster on a machine shared with other jobs)')
    p.add_argument('--cuda', action='store_true', help='train on the GPU (needs CuPy and a CUDA device)')
    p.add_argument('--no-capture', action='store_true',
                   help='with --cuda: run each step eagerly instead of replaying it as a CUDA graph '
                        '(cutorch.captureStep, the default on the GPU)')
    p.add_argument('--double', action='store_true', help='float64 (default float32)')
    p.add_argument('--limit', type=int, help='train on the first N training images only (quick runs)')
    p.add_argument('--test-batch', type=int, default=500, help='batch size for evaluation (default 500)')
    p.add_argument('--test-limit', type=int, help='evaluate on the first N test images only (quick runs)')
    p.add_argument('--save', metavar='FILE', help='save the trained net to a .t7 file Lua Torch7 can load')
    p.add_argument('--plot', metavar='PNG', help='plot the loss and accuracy curves (needs matplotlib)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--distributed', action='store_true',
                   help='data-parallel over MPI (run under mpirun -n N; one rank without): --batch is the global '
                        'batch, split across the ranks; rank 0 prints and saves.  With --cuda the steps are eager '
                        '(not captured)')
    args = p.parse_args(argv)
    for k, v in DEFAULTS[args.net].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    for k in ('epochs', 'batch', 'test_batch'):
        if getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    if args.limit is not None and args.limit < 1:
        p.error('--limit must be >= 1')
    if args.test_limit is not None and args.test_limit < 1:
        p.error('--test-limit must be >= 1')
    if args.threads < 1:
        p.error('--threads must be >= 1')
    return args


def check_options(args):
    """Fail before training on what would fail after it."""
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit("mnist.py: --plot needs matplotlib, which is not installed "
                     "(pip install matplotlib, or pip install luatorch_py[plot])")
    if args.save:
        d = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(d):
            sys.exit(f"mnist.py: --save {args.save}: directory {d} does not exist")
        if os.path.isdir(args.save):
            sys.exit(f"mnist.py: --save {args.save}: is a directory, expected a file name")
        try:        # a read-only or another user's directory: torch.save would fail only after the training
            with tempfile.TemporaryFile(dir=d):
                pass
        except OSError as e:
            sys.exit(f"mnist.py: --save {args.save}: cannot write in {d}: {e.strerror or e}")
    if args.cuda:
        try:
            backend.cupy()          # raises, saying what is missing, without CuPy or a device
        except backend.CudaUnavailableError as e:
            sys.exit(f"mnist.py: --cuda: {e}")
    if args.distributed:
        try:
            dist.init()
        except dist.DistributedError as e:
            sys.exit(f"mnist.py: --distributed: {e}")
        if args.cuda:               # one device per rank of a machine, as far as there are devices
            cutorch.setDevice(dist.localRank() % cutorch.getDeviceCount())


def make_step(net, crit, params, grads, config, capture, batches=None):
    """``step(x, y)``: one SGD step, returning the loss as a 1-element tensor of the net's type (on the GPU it stays
    on the device: no synchronization).  With ``capture`` (GPU only) the step is recorded once as a CUDA graph over
    the first batch's tensors and replayed (Batches refills those same tensors in place, the last partial batch
    padded: captureStep checks that they stay the same).  With ``batches`` (ShardedBatches, distributed, never
    captured) the gradient is allreduced; a rank without rows (x None) adds zeros and returns the previous loss (0.0
    before any), which the caller weighs by 0 rows."""
    box = {'loss': 0.0}

    def eager(x, y):
        def feval(_):
            grads.zero()
            if x is not None:
                out = net.forward(x)
                box['loss'] = crit.forwardDevice(out, y)
                net.backward(x, crit.backward(out, y))
            if batches is not None:
                dist.allreduceGradients(grads, batches.count, batches.total)
            return box['loss'], grads
        optim.sgd(feval, params, config)
        return box['loss']
    if not capture:
        return eager
    graph = {}

    def replay(x, y):
        if 'step' not in graph:
            graph['step'] = cutorch.captureStep(lambda: eager(x, y), inputs=(x, y))
        return graph['step']()
    return replay


def evaluate(net, images, labels, args, tensortype, mean, std, confusion=None):
    """Accuracy (a fraction) of ``net`` on the whole set; counts into ``confusion`` when given.  Distributed: each
    rank evaluates its slice of the set, and the counts are summed over the ranks."""
    net.evaluate()
    correct, ntotal = 0, len(labels)
    if args.distributed:
        lo, hi = dist.rank() * ntotal // dist.size(), (dist.rank() + 1) * ntotal // dist.size()
        images, labels = (images.narrow(0, lo, hi - lo), labels.narrow(0, lo, hi - lo)) if hi > lo else ([], [])
    for x, y in (Batches(images, labels, args.test_batch, shuffle=False, tensortype=tensortype, mean=mean, std=std)
                 if len(labels) else []):
        out = net.forward(x)
        pred = out._a.argmax(axis=1)
        correct += int((pred == y._a).sum())
        if confusion is not None:
            confusion.batchAdd(backend.to_numpy(pred), backend.to_numpy(y._a))
    net.training()
    if args.distributed:
        correct = dist.allreduceScalars(correct)
        if confusion is not None:
            dist.allreduceConfusion(confusion)
    return correct / ntotal


def plot(path, losses, accs, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    ep = np.arange(1, len(losses) + 1)
    a.plot(ep, losses, 'o-')
    a.set_xlabel('epoch')
    a.set_ylabel('train loss (NLL)')
    a.grid(True)
    b.plot(ep, [100 * x for x in accs], 'o-', color='C1')
    b.set_xlabel('epoch')
    b.set_ylabel('test accuracy (%)')
    b.grid(True)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse(argv)
    check_options(args)
    say = dist.rootPrint if args.distributed else print     # distributed: rank 0 prints, the others are quiet
    root = not args.distributed or dist.isRoot()
    from tqdm import tqdm
    dataset = 'Fashion-MNIST' if 'fashion' in os.path.basename(os.path.normpath(args.data)).lower() else 'MNIST'
    try:
        train = load_mnist(args.data, 'train', dataset)
        test = load_mnist(args.data, 'test', dataset)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"mnist.py: {e}")
    for ds in (train, test):    # else it fails later, far from the cause (an empty tensor's size(0), accuracy 0/0)
        if not len(ds):
            sys.exit(f"mnist.py: {args.data}: the {ds.name} set holds no images: expected at least one")
    train_images, train_labels = train.images, train.labels
    if args.limit is not None:
        n = min(args.limit, len(train))
        train_images, train_labels = train_images.narrow(0, 0, n), train_labels.narrow(0, 0, n)
    ntrain = train_images.size(0)
    test_images, test_labels = test.images, test.labels
    if args.test_limit is not None:
        n = min(args.test_limit, len(test))
        test_images, test_labels = test_images.narrow(0, 0, n), test_labels.narrow(0, 0, n)
    mean, std = pixel_stats(train_images)

    torch.setnumthreads(args.threads)
    torch.manualSeed(args.seed)
    net = build(args.net)
    crit = nn.ClassNLLCriterion()
    if args.cuda:
        tensortype = 'torch.CudaDoubleTensor' if args.double else 'torch.CudaTensor'
    else:
        tensortype = 'torch.DoubleTensor' if args.double else 'torch.FloatTensor'
    net.type(tensortype)
    crit.type(tensortype)
    params, grads = net.getParameters()
    if args.distributed:
        dist.broadcast(params)      # every rank starts from rank 0's weights
        say(f"distributed: {dist.size()} ranks, global batch {args.batch} split across them")
    say(f"{dataset}: {ntrain} training / {test_labels.size(0)} test images from {args.data}")
    say(f"net ({params.nElement()} parameters, {tensortype}):\n{net}")
    say(f"SGD: batch {args.batch}, learning rate {args.lr}, momentum {args.momentum}, learning rate decay "
          f"{args.lr_decay}, weight decay {args.weight_decay}, {args.epochs} epochs, seed {args.seed}")
    config = {'learningRate': args.lr, 'momentum': args.momentum, 'learningRateDecay': args.lr_decay,
              'weightDecay': args.weight_decay}
    capture = args.cuda and not args.no_capture and not args.distributed   # the allreduce is not captured
    # captured steps need one shape for every batch: the last partial one is padded with targets the criterion
    # ignores (ClassNLLCriterion's ignoreIndex), which leaves the loss and the gradients those of the real rows
    if args.distributed:
        batches = ShardedBatches(train_images, train_labels, args.batch, shuffle=True, tensortype=tensortype,
                                 mean=mean, std=std)
    else:
        batches = Batches(train_images, train_labels, args.batch, shuffle=True, tensortype=tensortype, mean=mean,
                          std=std, pad_last=crit.ignoreIndex if capture else None)
    losses, accs = [], []
    t_start = time.perf_counter()
    train_time = 0.0
    step = make_step(net, crit, params, grads, config, capture, batches if args.distributed else None)
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        running = torch.Tensor(1).type(tensortype).zero() if args.cuda else None
        t0 = time.perf_counter()
        bar = tqdm(batches, total=len(batches), desc=f"epoch {epoch}/{args.epochs}", unit='batch', leave=False,
                   disable=args.no_progress or not root, file=sys.stderr, dynamic_ncols=True)
        for i, (x, y) in enumerate(bar):
            n = batches.count if args.distributed else batches.last_size if i == len(batches) - 1 else args.batch
            loss = step(x, y)
            if args.cuda:
                # no host synchronization per step: the loss stays on the device and is summed there; it is read
                # back (one synchronization) only when the progress bar shows it, every 10 batches
                running.add(n, loss)
            else:
                total += float(loss) * n
            seen += n
            # (seen is still 0 on a rank that got no rows yet: a global batch smaller than the number of ranks)
            if seen and (i % 10 == 0 or i == len(batches) - 1):
                if args.cuda:
                    total = float(running[0])
                bar.set_postfix_str(f"loss {total / seen:.4f}, {seen / (time.perf_counter() - t0):.0f} img/s",
                                    refresh=False)
        bar.close()
        if args.distributed:
            total, seen = dist.allreduceScalars([total, seen])
        train_time += time.perf_counter() - t0
        acc = evaluate(net, test_images, test_labels, args, tensortype, mean, std)
        losses.append(total / seen)
        accs.append(acc)
        say(f"epoch {epoch}: train loss {total / seen:.4f}, test accuracy {acc:.4f}", flush=True)
    elapsed = time.perf_counter() - t_start
    say(f"trained in {train_time:.2f} s ({args.epochs * ntrain / train_time:.0f} images/s), {elapsed:.2f} s with "
          f"the evaluations")
    classes = (['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                'Ankle boot'] if dataset == 'Fashion-MNIST' else [str(d) for d in range(10)])
    confusion = optim.ConfusionMatrix(classes)
    acc = evaluate(net, test_images, test_labels, args, tensortype, mean, std, confusion)
    say(confusion)
    if args.plot and root:
        plot(args.plot, losses, accs, f"{args.net} on {dataset}")
        say(f"curves written to {args.plot}")
    if args.save:
        net.clearState()
        if args.distributed:
            dist.rootSave(args.save, net)
        else:
            torch.save(args.save, net)
        say(f"net saved to {args.save}")
    say(f"test accuracy: {acc:.4f}", flush=True)
    return acc


if __name__ == '__main__':
    main()
