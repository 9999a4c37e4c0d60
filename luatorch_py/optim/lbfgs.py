"""Torch7's optim.lbfgs: limited-memory BFGS, heavily inspired by minFunc (Mark Schmidt)."""

from ..tensor import Tensor
from ._util import evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, lua_div


def lbfgs(opfunc, x, config=None, state=None):
    """Run up to ``maxIter`` L-BFGS iterations from x (updated in place).

    Returns ``(x, f_hist)``: f_hist[0] is f before any step, f_hist[-1] the value at the returned x (Torch7 also
    returns the number of evaluations of this call; ``state['funcEval']`` counts them over all calls).

    config: ``maxIter`` (20), ``maxEval`` (maxIter*1.25), ``tolFun`` (1e-5, stop when sum|g| <= tolFun),
    ``tolX`` (1e-9, stop on small steps / changes of f), ``nCorrection`` (100, history size), ``lineSearch``
    (a function such as ``optim.lswolfe``; none: fixed steps of ``learningRate``), ``lineSearchOptions``,
    ``learningRate`` (1), ``verbose`` (False).
    state: ``funcEval``, ``nIter``, ``d`` (direction), ``t`` (step), ``old_dirs``, ``old_stps`` (lists of
    history tensors), ``Hdiag``, ``g_old``, ``f_old``, ``dir_bufs``, ``stp_bufs``, ``tmp1``, ``ro``, ``al``.
    """
    check_x(x, 'lbfgs')
    config, state = get_state(config, state, 'lbfgs')
    max_iter = int(opt(config, 'maxIter', 20))
    max_eval = opt(config, 'maxEval', None)
    max_eval = max_iter * 1.25 if max_eval is None else float(max_eval)
    tol_fun = opt(config, 'tolFun', 1e-5)
    tol_x = opt(config, 'tolX', 1e-9)
    n_correction = int(opt(config, 'nCorrection', 100))
    line_search = opt(config, 'lineSearch', None)
    line_search_opts = opt(config, 'lineSearchOptions', None)
    learning_rate = opt(config, 'learningRate', 1)
    isverbose = opt(config, 'verbose', False)

    state['funcEval'] = opt(state, 'funcEval', 0)
    state['nIter'] = opt(state, 'nIter', 0)

    def verbose(*a):
        if isverbose:
            print('<optim.lbfgs> ', *a)

    # evaluate initial f(x) and df/dx
    f, g = evaluate(opfunc, x, 'lbfgs')
    g = grad_tensor(g, x, 'lbfgs')
    f_hist = [f]
    current_func_eval = 1
    state['funcEval'] += 1

    # check optimality of initial point
    tmp1 = state_buffer(state, 'tmp1', lambda: zeros_like(g))
    tmp1.copy(g).abs()
    if tmp1.sum() <= tol_fun:
        verbose('optimality condition below tolFun')
        return x, f_hist

    if state.get('dir_bufs') is None:
        # reusable buffers for y's and s's, and their histories
        verbose('creating recyclable direction/step/history buffers')
        shape = (n_correction + 1,) + tuple(g._a.shape)
        dirs, stps = type(g)(shape), type(g)(shape)
        state['dir_bufs'] = [dirs[i] for i in range(n_correction + 1)]
        state['stp_bufs'] = [stps[i] for i in range(n_correction + 1)]
    dir_bufs, stp_bufs = state['dir_bufs'], state['stp_bufs']

    # variables cached in state (for tracing)
    d = state.get('d')
    t = state.get('t')
    old_dirs = state.get('old_dirs')
    old_stps = state.get('old_stps')
    h_diag = state.get('Hdiag')
    g_old = state.get('g_old')
    f_old = state.get('f_old')

    # optimize for a max of maxIter iterations
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        state['nIter'] += 1

        # compute gradient descent direction
        if state['nIter'] == 1:
            d = g.clone().mul(-1)
            old_dirs = []
            old_stps = []
            h_diag = 1
        else:
            # do lbfgs update (update memory)
            y = dir_bufs.pop()
            s = stp_bufs.pop()
            y.add(g, -1, g_old)        # g - g_old
            s.mul(d, t)                # d*t
            ys = y.dot(s)
            if ys > 1e-10:
                # updating memory
                if len(old_dirs) == n_correction:
                    # shift history by one (limited memory)
                    dir_bufs.append(old_dirs.pop(0))
                    stp_bufs.append(old_stps.pop(0))
                # store new direction/step (Torch7's names: old_dirs holds the s's, old_stps the y's)
                old_dirs.append(s)
                old_stps.append(y)
                # update scale of initial Hessian approximation
                h_diag = ys / y.dot(y)
            else:
                # put y and s back into the buffer pool
                dir_bufs.append(y)
                stp_bufs.append(s)

            # compute the approximate (L-BFGS) inverse Hessian multiplied by the gradient
            k = len(old_dirs)
            ro = state_buffer(state, 'ro', lambda: Tensor(n_correction))
            al = state_buffer(state, 'al', lambda: Tensor(n_correction).zero())
            ro_a, al_a = ro._a, al._a
            for i in range(k):
                ro_a[i] = lua_div(1, old_stps[i].dot(old_dirs[i]))

            # iteration in L-BFGS loop collapsed to use just one buffer
            q = tmp1
            q.mul(g, -1)
            for i in range(k - 1, -1, -1):
                al_a[i] = old_dirs[i].dot(q) * ro_a[i]
                q.add(-float(al_a[i]), old_stps[i])

            # multiply by initial Hessian; r shares d's buffer (the old d is no longer needed)
            r = d
            r.mul(q, h_diag)
            for i in range(k):
                be_i = old_stps[i].dot(r) * ro_a[i]
                r.add(float(al_a[i] - be_i), old_dirs[i])
            # final direction is in r/d (same object)

        if g_old is None:
            g_old = g.clone()
        g_old.copy(g)
        f_old = f

        # compute step length: directional derivative
        gtd = g.dot(d)

        # check that progress can be made along that direction
        if gtd > -tol_x:
            break

        # reset initial guess for step size
        if state['nIter'] == 1:
            tmp1.copy(g).abs()
            t = min(1, lua_div(1, tmp1.sum())) * learning_rate
        else:
            t = learning_rate

        # optional line search: user function
        ls_func_eval = 0
        if line_search is not None and callable(line_search):
            f, g, x, t, ls_func_eval = line_search(opfunc, x, t, d, f, g, gtd, line_search_opts)
            f_hist.append(f)
        else:
            # no line search, simply move with fixed step
            x.add(t, d)
            if n_iter != max_iter:
                # re-evaluate the function only if not in the last iteration (no use in a stochastic setting)
                f, g = evaluate(opfunc, x, 'lbfgs')
                g = grad_tensor(g, x, 'lbfgs')
                ls_func_eval = 1
                f_hist.append(f)

        # update func eval
        current_func_eval += ls_func_eval
        state['funcEval'] += ls_func_eval

        # check conditions
        if n_iter == max_iter:
            verbose('reached max number of iterations')
            break
        if current_func_eval >= max_eval:
            verbose('max nb of function evals')
            break
        tmp1.copy(g).abs()
        if tmp1.sum() <= tol_fun:
            verbose('optimality condition below tolFun')
            break
        tmp1.copy(d).mul(t).abs()
        if tmp1.sum() <= tol_x:
            verbose('step size below tolX')
            break
        if abs(f - f_old) < tol_x:
            verbose('function value changing less than tolX')
            break

    # save state
    state['old_dirs'] = old_dirs
    state['old_stps'] = old_stps
    state['Hdiag'] = h_diag
    state['g_old'] = g_old
    state['f_old'] = f_old
    state['t'] = t
    state['d'] = d
    return x, f_hist
