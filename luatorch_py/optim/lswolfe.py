"""Torch7's optim.lswolfe: a line search satisfying the strong Wolfe conditions (after minFunc)."""
from ._util import opt, grad_tensor, lua_div
from .polyinterp import polyinterp


def _dot(g, d):
    return g.dot(d)


def lswolfe(opfunc, x, t, d, f, g, gtd, options=None):
    """Search along direction ``d`` from ``x`` (moved in place) for a step satisfying the Wolfe conditions.

    Arguments as Torch7: opfunc, x (start point, updated in place), t (initial step), d (direction), f and g
    (value and gradient at x), gtd (directional derivative g.d), options: ``c1`` (1e-4, sufficient decrease),
    ``c2`` (0.9, curvature), ``tolX`` (1e-9, minimum step change), ``maxIter`` (20), ``verbose`` (False).

    Returns ``(f_new, g_new, x, t, lsFuncEval)``: value and gradient at x + t*d, x itself, the step and the
    number of function evaluations.
    """
    options = options or {}
    c1 = opt(options, 'c1', 1e-4)
    c2 = opt(options, 'c2', 0.9)
    tolX = opt(options, 'tolX', 1e-9)
    max_iter = opt(options, 'maxIter', 20)
    isverbose = opt(options, 'verbose', False)

    def verbose(*a):
        if isverbose:
            print('<optim.lswolfe> ', *a)

    x_init = x.clone()

    def evaluate(step):
        """f, g and g.d at x_init + step * d (where x is moved)."""
        x.copy(x_init)
        x.add(step, d)
        fs, gs = opfunc(x)
        gs = grad_tensor(gs, x, 'lswolfe')
        return fs, gs, _dot(gs, d)

    # evaluate objective and gradient using the initial step
    f_new, g_new, gtd_new = evaluate(t)
    ls_func_eval = 1

    # bracket an interval containing a point satisfying the Wolfe criteria
    ls_iter, t_prev, done = 0, 0, False
    f_prev, g_prev, gtd_prev = f, g.clone(), gtd
    bracket = bracket_f = bracket_g = None
    p_shape = (2,) + tuple(g_new._a.shape)

    def pair(ga, gb):
        bg = type(g_new)(p_shape)
        bg[0].copy(ga)
        bg[1].copy(gb)
        return bg

    while ls_iter < max_iter:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], pair(g_prev, g_new)
            break
        elif abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f = [t], [f_new]
            bracket_g = type(g_new)((1,) + tuple(g_new._a.shape))
            bracket_g[0].copy(g_new)
            done = True
            break
        elif gtd_new >= 0:
            bracket, bracket_f, bracket_g = [t_prev, t], [f_prev, f_new], pair(g_prev, g_new)
            break

        # interpolate
        tmp = t_prev
        t_prev = t
        min_step = t + 0.01 * (t - tmp)
        max_step = t * 10
        t = polyinterp([[tmp, f_prev, gtd_prev], [t, f_new, gtd_new]], min_step, max_step)

        # next step
        f_prev = f_new
        g_prev = g_new.clone()
        gtd_prev = gtd_new
        f_new, g_new, gtd_new = evaluate(t)
        ls_func_eval += 1
        ls_iter += 1

    # reached max nb of iterations?
    if ls_iter == max_iter:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], pair(g, g_new)

    # zoom phase: we now have a point satisfying the criteria, or a bracket around it; refine the bracket
    # until finding the point satisfying the criteria
    insuf_progress = False
    while not done and ls_iter < max_iter:
        # high and low points in the bracket (Torch7's min(): the first minimum, nan counts as smaller)
        lo = 1 if not (bracket_f[1] >= bracket_f[0]) else 0
        hi = 1 - lo
        f_lo = bracket_f[lo]

        # new trial value
        t = polyinterp([[bracket[0], bracket_f[0], _dot(bracket_g[0], d)],
                        [bracket[1], bracket_f[1], _dot(bracket_g[1], d)]])

        # test that we are making sufficient progress
        bmax, bmin = max(bracket), min(bracket)
        if lua_div(min(bmax - t, t - bmin), bmax - bmin) < 0.1:
            if insuf_progress or t >= bmax or t <= bmin:
                if abs(t - bmax) < abs(t - bmin):
                    t = bmax - 0.1 * (bmax - bmin)
                else:
                    t = bmin + 0.1 * (bmax - bmin)
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        # evaluate the new point
        f_new, g_new, gtd_new = evaluate(t)
        ls_func_eval += 1
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= f_lo:
            # Armijo condition not satisfied or not lower than the lowest point
            bracket[hi] = t
            bracket_f[hi] = f_new
            bracket_g[hi].copy(g_new)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                # Wolfe conditions satisfied
                done = True
            elif gtd_new * (bracket[hi] - bracket[lo]) >= 0:
                # old HI becomes new LO
                bracket[hi] = bracket[lo]
                bracket_f[hi] = bracket_f[lo]
                bracket_g[hi].copy(bracket_g[lo])
            # new point becomes new LO
            bracket[lo] = t
            bracket_f[lo] = f_new
            bracket_g[lo].copy(g_new)

        # done?
        if not done and abs((bracket[0] - bracket[1]) * gtd_new) < tolX:
            break

    if ls_iter == max_iter:
        verbose('reached max number of iterations')

    # return the lowest point of the bracket
    lo = 1 if len(bracket_f) > 1 and not (bracket_f[1] >= bracket_f[0]) else 0
    t = bracket[lo]
    f_new = bracket_f[lo]
    g_new = bracket_g[lo]
    x.copy(x_init)
    x.add(t, d)
    return f_new, g_new, x, t, ls_func_eval
