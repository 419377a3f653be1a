// sqzfpga streaming layers: conv, fused Fire module, max pooling, exact global average pooling.
//
// Every layer reads one channels-last pixel (nnet::array of C values) per stream beat in raster
// order and writes its output pixels in raster order as soon as their window is complete, so a
// layer holds only a few rows of its input (line buffers), never a whole frame. Arithmetic is
// exact fixed point: accumulators are sized from the actual weights (see sqzfpga/hls/precision.py)
// and every requantisation rounds half to even and saturates (AP_RND_CONV, AP_SAT), which is what
// the QONNX Quant node computes. This header is copied into firmware/nnet_utils/ by the build.
#ifndef SQZ_LAYERS_H_
#define SQZ_LAYERS_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_types.h"

namespace sqz {

// Raw integer (value * 2^frac) of a fixed-point number, sign-extended.
template <int W, class T> ap_int<W> raw_signed(T x) {
    #pragma HLS INLINE
    ap_int<T::width> v;
    v.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return v;
}
template <int W, class T> ap_int<W> raw_unsigned(T x) {
    #pragma HLS INLINE
    ap_uint<T::width> v;
    v.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return v;
}

// Requantise an exact accumulator: optional ReLU, round half to even, saturate (by the out type).
// ap_fixed's converting constructor reads the source's bit D-1 (D = source frac - out frac) to round,
// and asserts when that bit lies beyond the source's MSB (a dead layer's accumulator with a 2^-31
// bias scale did, found by fuzzing). So the value is first widened, exactly (sign extension, free in
// hardware), to at least D+2 bits: the same rule as sqz_requant.sv.
template <class out_T, class acc_T> out_T requant(acc_T acc, bool relu) {
    #pragma HLS INLINE
    static const int F = acc_T::width - acc_T::iwidth;
    static const int D = F - (out_T::width - out_T::iwidth);
    static const int W = acc_T::width + 1 > D + 2 ? acc_T::width + 1 : D + 2;
    if (relu && acc < 0)
        return out_T(0);
    ap_fixed<W, W - F> wide = acc;
    return out_T(wide);
}

// The streaming window schedule shared by conv, Fire and pooling: after input pixel (r, c) has
// arrived, output (oy, ox) is complete once its last needed input pixel is at or before (r, c).
template <unsigned H, unsigned W, unsigned K, unsigned S, int PT, int PL>
bool window_ready(unsigned r, unsigned c, unsigned oy, unsigned ox) {
    #pragma HLS INLINE
    int last_r = int(oy * S) - PT + int(K) - 1;
    int last_c = int(ox * S) - PL + int(K) - 1;
    if (last_r > int(H) - 1)
        last_r = H - 1;
    if (last_c > int(W) - 1)
        last_c = W - 1;
    return int(r) > last_r || (int(r) == last_r && int(c) >= last_c);
}

// One output pixel of a K x K convolution over a K-row circular line buffer (zero padding is the
// skipped taps outside the image).
template <class buf_T, class res_T, class CONFIG_T, unsigned NF, unsigned K, unsigned S, int PT, int PL,
          unsigned H, unsigned W, unsigned C>
void conv_pixel(const buf_T buf[K][W][C], unsigned oy, unsigned ox, const typename CONFIG_T::weight_t *w,
                const typename CONFIG_T::bias_t *b, bool relu, res_T *out) {
    #pragma HLS INLINE off
Filters:
    for (unsigned f = 0; f < NF; f++) {
        #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
        typename CONFIG_T::accum_t acc = b[f];
        for (unsigned ky = 0; ky < K; ky++) {
            int iy = int(oy * S) - PT + int(ky);
            if (iy < 0 || iy >= int(H))
                continue;
            for (unsigned kx = 0; kx < K; kx++) {
                int ix = int(ox * S) - PL + int(kx);
                if (ix < 0 || ix >= int(W))
                    continue;
                for (unsigned ch = 0; ch < C; ch++) {
                    acc += w[((f * K + ky) * K + kx) * C + ch] * buf[iy % K][ix][ch];
                }
            }
        }
        out[f] = requant<res_T>(acc, relu);
    }
}

// The one streaming loop of every window layer: read the H x W input pixels in raster order, let the
// kernel keep each (load), and after each pixel write every output whose window is complete
// (emit), in raster order. Kernels own their line buffers; this owns the schedule.
template <class data_T, class res_T, class Kernel, unsigned H, unsigned W, unsigned K, unsigned S, int PT, int PL,
          unsigned OH, unsigned OW>
void stream_windows(hls::stream<data_T> &data, hls::stream<res_T> &res, Kernel &kernel) {
    unsigned oy = 0, ox = 0;
Rows:
    for (unsigned r = 0; r < H; r++) {
    Cols:
        for (unsigned c = 0; c < W; c++) {
            kernel.load(r, c, data.read());
        Emit:
            while (oy < OH && window_ready<H, W, K, S, PT, PL>(r, c, oy, ox)) {
                res_T o;
                kernel.emit(oy, ox, o);
                res.write(o);
                if (++ox == OW) {
                    ox = 0;
                    oy++;
                }
            }
        }
    }
}

// A K-row circular line buffer of whole input pixels.
template <class T, unsigned K, unsigned W, unsigned C> struct LineBuffer {
    T buf[K][W][C];
    template <class px_T> void load(unsigned r, unsigned c, const px_T &px) {
        #pragma HLS INLINE
        for (unsigned ch = 0; ch < C; ch++)
            buf[r % K][c][ch] = px[ch];
    }
};

// ---- convolution: any kernel, stride, padding; bias, optional ReLU, requantisation ----------------
template <class data_T, class res_T, typename CONFIG_T> struct ConvKernel {
    static const unsigned H = CONFIG_T::in_height, W = CONFIG_T::in_width, C = CONFIG_T::n_chan;
    static const unsigned K = CONFIG_T::kernel;
    LineBuffer<typename data_T::value_type, K, W, C> lb;
    const typename CONFIG_T::weight_t *w;
    const typename CONFIG_T::bias_t *b;
    void load(unsigned r, unsigned c, const data_T &px) { lb.load(r, c, px); }
    void emit(unsigned oy, unsigned ox, res_T &o) {
        conv_pixel<typename data_T::value_type, typename res_T::value_type, CONFIG_T, CONFIG_T::n_filt, K,
                   CONFIG_T::stride, CONFIG_T::pad_top, CONFIG_T::pad_left, H, W, C>(lb.buf, oy, ox, w, b,
                                                                                    CONFIG_T::relu, o.data);
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void conv(hls::stream<data_T> &data, hls::stream<res_T> &res,
          const typename CONFIG_T::weight_t w[CONFIG_T::n_filt * CONFIG_T::kernel * CONFIG_T::kernel * CONFIG_T::n_chan],
          const typename CONFIG_T::bias_t b[CONFIG_T::n_filt]) {
    ConvKernel<data_T, res_T, CONFIG_T> k;
    #pragma HLS ARRAY_PARTITION variable = k.lb.buf complete dim = 3
    k.w = w;
    k.b = b;
    stream_windows<data_T, res_T, ConvKernel<data_T, res_T, CONFIG_T>, CONFIG_T::in_height, CONFIG_T::in_width,
                   CONFIG_T::kernel, CONFIG_T::stride, CONFIG_T::pad_top, CONFIG_T::pad_left, CONFIG_T::out_height,
                   CONFIG_T::out_width>(data, res, k);
}

// ---- max pooling: k x k / s, floor or ceil mode (windows clipped to the image, as ONNX pads -inf) --
template <class data_T, class res_T, typename CONFIG_T> struct PoolKernel {
    static const unsigned H = CONFIG_T::in_height, W = CONFIG_T::in_width, C = CONFIG_T::n_chan;
    static const unsigned K = CONFIG_T::kernel, S = CONFIG_T::stride;
    LineBuffer<typename data_T::value_type, K, W, C> lb;
    void load(unsigned r, unsigned c, const data_T &px) { lb.load(r, c, px); }
    void emit(unsigned oy, unsigned ox, res_T &o) {
        for (unsigned ch = 0; ch < C; ch++) {
            #pragma HLS UNROLL
            bool first = true;
            typename res_T::value_type m = 0;
            for (unsigned ky = 0; ky < K; ky++) {
                int iy = int(oy * S) - CONFIG_T::pad_top + int(ky);
                for (unsigned kx = 0; kx < K; kx++) {
                    int ix = int(ox * S) - CONFIG_T::pad_left + int(kx);
                    if (iy < 0 || iy >= int(H) || ix < 0 || ix >= int(W))
                        continue;
                    typename data_T::value_type v = lb.buf[iy % K][ix][ch];
                    if (first || v > m)
                        m = v;
                    first = false;
                }
            }
            o[ch] = m;
        }
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void maxpool(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    PoolKernel<data_T, res_T, CONFIG_T> k;
    #pragma HLS ARRAY_PARTITION variable = k.lb.buf complete dim = 3
    stream_windows<data_T, res_T, PoolKernel<data_T, res_T, CONFIG_T>, CONFIG_T::in_height, CONFIG_T::in_width,
                   CONFIG_T::kernel, CONFIG_T::stride, CONFIG_T::pad_top, CONFIG_T::pad_left, CONFIG_T::out_height,
                   CONFIG_T::out_width>(data, res, k);
}

// ---- exact average: shared by the global and the windowed average pool (sqz_avgpool.h) ---------
// round_half_even(sum * 2^shift / n), saturated to [out_min, out_max], as the out type's bits.
template <class out_T, typename CONFIG_T> out_T exact_average(ap_int<CONFIG_T::sum_width> sum, unsigned n) {
    #pragma HLS INLINE
    ap_int<CONFIG_T::num_width> num = sum;
    ap_int<CONFIG_T::num_width> den = n;
    if (CONFIG_T::shift >= 0)
        num <<= CONFIG_T::shift;
    else
        den <<= -CONFIG_T::shift;
    bool neg = num < 0;
    if (neg)
        num = -num;
    ap_int<CONFIG_T::num_width> q = num / den, rem = num % den;
    if (2 * rem > den || (2 * rem == den && q[0]))
        q++;
    if (neg)
        q = -q;
    if (q > CONFIG_T::out_max)
        q = CONFIG_T::out_max;
    if (q < CONFIG_T::out_min)
        q = CONFIG_T::out_min;
    out_T v;
    v.range(out_T::width - 1, 0) = q.range(out_T::width - 1, 0);
    return v;
}

// ---- global average pooling with exact rounding ------------------------------------------------
// out = round_half_even(sum * 2^(out_frac - in_frac) / N), saturated: the same integers the QONNX
// Quant after GlobalAveragePool produces, with one integer division per channel per frame.
template <class data_T, class res_T, typename CONFIG_T>
void global_avg(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    const unsigned C = CONFIG_T::n_chan, N = CONFIG_T::in_height * CONFIG_T::in_width;
    typedef ap_int<CONFIG_T::sum_width> sum_t;
    sum_t sum[C];
    #pragma HLS ARRAY_PARTITION variable = sum complete
    for (unsigned ch = 0; ch < C; ch++)
        sum[ch] = 0;
Pixels:
    for (unsigned i = 0; i < N; i++) {
        #pragma HLS PIPELINE
        data_T px = data.read();
        for (unsigned ch = 0; ch < C; ch++) {
            #pragma HLS UNROLL
            if (CONFIG_T::in_signed)
                sum[ch] += raw_signed<CONFIG_T::sum_width>(px[ch]);
            else
                sum[ch] += raw_unsigned<CONFIG_T::sum_width>(px[ch]);
        }
    }
    res_T o;
    for (unsigned ch = 0; ch < C; ch++) {
        o[ch] = exact_average<typename res_T::value_type, CONFIG_T>(sum[ch], N);
    }
    res.write(o);
}


// ---- fused Fire module ------------------------------------------------------------------------
// squeeze 1x1 (+ReLU, requant) on each arriving pixel into a 3-row line buffer; both expands read
// that one buffer (3x3 zero padding = skipped taps) and are written as one concatenated pixel;
// optional bypass (identity or 1x1 conv of the module input, kept in a 2-row buffer) is added
// before the last requantisation. No clone, no zero-padding layer, no whole-frame FIFO.
template <class data_T, class res_T, typename CONFIG_T> struct FireKernel {
    static const unsigned H = CONFIG_T::height, W = CONFIG_T::width, CI = CONFIG_T::n_chan, SQ = CONFIG_T::n_squeeze;
    static const unsigned E1 = CONFIG_T::n_expand1x1, E3 = CONFIG_T::n_expand3x3;
    typedef typename data_T::value_type in_T;
    typedef typename CONFIG_T::squeeze_t sq_T;
    typedef typename CONFIG_T::expand_t ex_T;
    typedef typename CONFIG_T::squeeze_config SqC;
    typedef typename CONFIG_T::expand1x1_config E1C;
    typedef typename CONFIG_T::expand3x3_config E3C;
    typedef typename CONFIG_T::bypass_config ByC;
    sq_T sbuf[3][W][SQ];
    in_T xbuf[2][W][CI];
    const typename SqC::weight_t *sq_w;
    const typename SqC::bias_t *sq_b;
    const typename E1C::weight_t *e1_w;
    const typename E1C::bias_t *e1_b;
    const typename E3C::weight_t *e3_w;
    const typename E3C::bias_t *e3_b;
    const typename ByC::weight_t *by_w;
    const typename ByC::bias_t *by_b;

    void load(unsigned r, unsigned c, const data_T &px) {
        in_T x[1][1][CI];
        for (unsigned ch = 0; ch < CI; ch++) {
            x[0][0][ch] = px[ch];
            if (CONFIG_T::bypass != 0)
                xbuf[r % 2][c][ch] = px[ch];
        }
        conv_pixel<in_T, sq_T, SqC, SQ, 1, 1, 0, 0, 1, 1, CI>(x, 0, 0, sq_w, sq_b, SqC::relu, sbuf[r % 3][c]);
    }

    void emit(unsigned oy, unsigned ox, res_T &o) {
        ex_T e[E1 + E3];
        sq_T center[1][1][SQ];
        for (unsigned ch = 0; ch < SQ; ch++)
            center[0][0][ch] = sbuf[oy % 3][ox][ch];
        conv_pixel<sq_T, ex_T, E1C, E1, 1, 1, 0, 0, 1, 1, SQ>(center, 0, 0, e1_w, e1_b, E1C::relu, e);
        conv_pixel<sq_T, ex_T, E3C, E3, 3, 1, 1, 1, H, W, SQ>(sbuf, oy, ox, e3_w, e3_b, E3C::relu, e + E1);
        if (CONFIG_T::bypass == 0) {
            for (unsigned ch = 0; ch < E1 + E3; ch++)
                o[ch] = e[ch];
            return;
        }
        ex_T by[E1 + E3];
        in_T x[1][1][CI];
        for (unsigned ch = 0; ch < CI; ch++)
            x[0][0][ch] = xbuf[oy % 2][ox][ch];
        if (CONFIG_T::bypass == 1) {
            for (unsigned ch = 0; ch < CI; ch++)
                by[ch] = requant<ex_T>(x[0][0][ch], true);
        } else {
            conv_pixel<in_T, ex_T, ByC, E1 + E3, 1, 1, 0, 0, 1, 1, CI>(x, 0, 0, by_w, by_b, ByC::relu, by);
        }
        for (unsigned ch = 0; ch < E1 + E3; ch++) {
            typename CONFIG_T::add_t sum = typename CONFIG_T::add_t(e[ch]) + typename CONFIG_T::add_t(by[ch]);
            o[ch] = requant<typename res_T::value_type>(sum, CONFIG_T::add_relu);
        }
    }
};

// by_w/by_b only for the 1x1-conv bypass
template <class data_T, class res_T, typename CONFIG_T>
void fire(hls::stream<data_T> &data, hls::stream<res_T> &res, const typename CONFIG_T::squeeze_config::weight_t *sq_w,
          const typename CONFIG_T::squeeze_config::bias_t *sq_b, const typename CONFIG_T::expand1x1_config::weight_t *e1_w,
          const typename CONFIG_T::expand1x1_config::bias_t *e1_b, const typename CONFIG_T::expand3x3_config::weight_t *e3_w,
          const typename CONFIG_T::expand3x3_config::bias_t *e3_b,
          const typename CONFIG_T::bypass_config::weight_t *by_w = 0,
          const typename CONFIG_T::bypass_config::bias_t *by_b = 0) {
    FireKernel<data_T, res_T, CONFIG_T> k;
    #pragma HLS ARRAY_PARTITION variable = k.sbuf complete dim = 3
    #pragma HLS ARRAY_PARTITION variable = k.xbuf complete dim = 3
    k.sq_w = sq_w;
    k.sq_b = sq_b;
    k.e1_w = e1_w;
    k.e1_b = e1_b;
    k.e3_w = e3_w;
    k.e3_b = e3_b;
    k.by_w = by_w;
    k.by_b = by_b;
    stream_windows<data_T, res_T, FireKernel<data_T, res_T, CONFIG_T>, CONFIG_T::height, CONFIG_T::width, 3, 1, 1, 1,
                   CONFIG_T::height, CONFIG_T::width>(data, res, k);
}

} // namespace sqz

#endif
