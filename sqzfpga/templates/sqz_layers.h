// sqzfpga streaming layers for Vitis HLS: the RTL backend's dataflow, unit for unit, in C++.
//
// Every conv-like unit (a conv, a Fire's squeeze, its fused expands, its bypass conv) is two DATAFLOW
// processes with one pipelined loop each, at II=1 (the planner's folding, sqzfpga/rtl/plan.py):
//   window: reads the input stream (beats of BIN channels, raster order, channels last) into a line
//           buffer of R rows and issues one step per iteration: PI channels of one tap of the current
//           output pixel's window (zeros, flagged, for a padding tap). A step order (output-channel chunk,
//           tap row, tap column, input-channel chunk) and a line-buffer rule (a row is overwritten only
//           when no later window needs it) are those of templates/rtl/sqz_window.sv.
//   mac:    multiplies each step by one weight ROM word (PI x PO weights; PACK 2: two output channels per
//           multiplier as in sqz_mac.sv), accumulates PO exact integer sums and, after a chunk's last step,
//           writes the PO requantised outputs as one beat.
// Pooling reuses the window (one channel chunk of one tap per step); the global average pool adds whole
// beats. So every loop reads each stream at most once and each array at most once per iteration, the
// weight ROM is one word per step (reshaped by the call site, bound to block RAM or LUTs there), and
// the trip count of every loop with a data-dependent exit is stated (LOOP_TRIPCOUNT, from the Python
// cycle model sqzfpga/hls/cycles.py, which models exactly these loops).
//
// Arithmetic is exact integer: products and sums at full width, requantisation rounding half to even
// and saturating (sqz_requant.sv), the integers the QONNX reference computes.
#ifndef SQZ_LAYERS_H_
#define SQZ_LAYERS_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_types.h"

namespace sqz {

// The raw integer (value * 2^frac) of a fixed-point value, sign- or zero-extended to W bits.
template <int W, bool SIGNED, class T> ap_int<W> raw(T x) {
    #pragma HLS INLINE
    if (SIGNED) {
        ap_int<T::width> v;
        v.range(T::width - 1, 0) = x.range(T::width - 1, 0);
        return v;
    }
    ap_uint<T::width> v;
    v.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return v;
}

// Requantise an exact integer: optional ReLU, a right shift by D rounding half to even (a left shift
// when D < 0), saturation to the output type; the output's raw bits (sqz_requant.sv, bit for bit).
template <class out_T, bool OSIGNED, int D, bool RELU, int AW> out_T requant(ap_int<AW> a) {
    #pragma HLS INLINE
    static const int OB = out_T::width;
    static const int DR = D > 0 ? D : 0, DL = D < 0 ? -D : 0;
    static const int WK = AW + DL + 2;
    ap_int<WK> r;
    if (D > 0) {
        ap_int<AW> fl = a >> DR;
        ap_int<AW + 1> rem = ap_int<AW + 1>(a) - (ap_int<AW + 1>(fl) << DR);
        ap_int<AW + 1> half = ap_int<AW + 1>(1) << (DR > 0 ? DR - 1 : 0);
        bool up = rem > half || (rem == half && fl[0] == 1);
        r = ap_int<WK>(fl) + ap_int<WK>(up ? 1 : 0);
    } else {
        r = ap_int<WK>(a) << DL;
    }
    const ap_int<WK> omax = OSIGNED ? ap_int<WK>((ap_int<WK>(1) << (OB - 1)) - 1) : ap_int<WK>((ap_int<WK>(1) << OB) - 1);
    const ap_int<WK> omin = OSIGNED ? ap_int<WK>(-(ap_int<WK>(1) << (OB - 1))) : ap_int<WK>(0);
    ap_int<WK> q = (RELU && a < 0) ? ap_int<WK>(0) : (r > omax ? omax : (r < omin ? omin : r));
    out_T v;
    v.range(OB - 1, 0) = q.range(OB - 1, 0);
    return v;
}

// One step of a sliding window: N channels of one tap, and whether the tap lies in the padding.
template <class T, unsigned N> struct Step {
    T d[N];
    bool pad;
};

// ---- the window generator of every windowed unit --------------------------------------------------
// CFG: H W C K S PT PL OH OW (geometry), R (line-buffer rows, a power of two > K), BIN (channels per input
// beat), G (channels per stored word: gcd(BIN, PI)), PI, IN_CHUNKS (C / PI: chunks per tap), NSEG, NCO0,
// KS0, NCO1, KS1 (segments: output-channel chunks and centred taps per side), NSTEP (steps per output
// pixel), BY_CO (pooling: the output-channel chunk picks the chunk read, IN_CHUNKS = 1), TRIP (the loop's
// iterations per frame, from the cycle model).
template <class in_T, class T, typename CFG> void window(hls::stream<in_T> &in, hls::stream<Step<T, CFG::PI> > &out) {
    static const unsigned H = CFG::H, W = CFG::W, C = CFG::C, K = CFG::K, R = CFG::R, G = CFG::G, PI = CFG::PI;
    static const unsigned BIN = CFG::BIN, NW = C / G, WB = BIN / G, WR = PI / G;
    static const unsigned BEATS = H * W * (C / BIN), STEPS = CFG::OH * CFG::OW * CFG::NSTEP;
    T lb[R][W][NW][G];
    #pragma HLS ARRAY_PARTITION variable = lb complete dim = 4
    #pragma HLS ARRAY_PARTITION variable = lb cyclic factor = CFG::BANKS dim = 3
    #pragma HLS DEPENDENCE variable = lb type = inter direction = RAW distance = 2 dependent = true
    int win_y = -CFG::PT, win_x = -CFG::PL;     // top-left input coordinate of the current window
    unsigned ox = 0, oy = 0;                     // the current output pixel
    unsigned ci = 0, kx = 0, ky = 0, co = 0, seg = 0;  // step counters
    unsigned in_row = 0, in_col = 0, in_beat = 0;  // the next input beat's place
    unsigned done_row = 0, done_col = 0;         // the next pixel to complete, two iterations ago
    unsigned lag_row = 0, lag_col = 0;           // ... one iteration ago
    unsigned beats = 0, steps = 0;
Steps:
    while (steps < STEPS || beats < BEATS) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CFG::TRIP max = CFG::TRIP
        int last_r = win_y + int(K) - 1, last_c = win_x + int(K) - 1;
        if (last_r > int(H) - 1)
            last_r = H - 1;
        if (last_c > int(W) - 1)
            last_c = W - 1;
        int first_row = win_y < 0 ? 0 : win_y;
        bool arrived = int(done_row) > last_r || (int(done_row) == last_r && int(done_col) > last_c);
        unsigned next_row = lag_row, next_col = lag_col;
        done_row = lag_row;
        done_col = lag_col;
        // input side: one beat into the buffer, while the row it fills is not needed any more
        if (beats < BEATS && (steps == STEPS || int(in_row) < first_row + int(R))) {
            in_T px = in.read();
            for (unsigned j = 0; j < WB; j++) {
                #pragma HLS UNROLL
                for (unsigned g = 0; g < G; g++) {
                    #pragma HLS UNROLL
                    lb[in_row % R][in_col][in_beat * WB + j][g] = px[j * G + g];
                }
            }
            beats++;
            if (++in_beat == C / BIN) {
                in_beat = 0;
                if (++in_col == W) {
                    in_col = 0;
                    in_row++;
                }
                next_row = in_row;
                next_col = in_col;
            }
        }
        lag_row = next_row;
        lag_col = next_col;
        // output side: one step of the current window once all its pixels are in
        if (steps < STEPS && arrived) {
            unsigned ks = (CFG::NSEG > 1 && seg) ? CFG::KS1 : CFG::KS0;
            int off = (int(K) - int(ks)) / 2;
            int ty = win_y + int(ky) + off, tx = win_x + int(kx) + off;
            Step<T, PI> st;
            st.pad = ty < 0 || ty >= int(H) || tx < 0 || tx >= int(W);
            unsigned chunk = CFG::BY_CO ? co : ci;
            for (unsigned j = 0; j < WR; j++) {
                #pragma HLS UNROLL
                for (unsigned g = 0; g < G; g++) {
                    #pragma HLS UNROLL
                    st.d[j * G + g] = st.pad ? T(0) : lb[unsigned(ty) % R][unsigned(tx)][chunk * WR + j][g];
                }
            }
            out.write(st);
            steps++;
            unsigned nco = (CFG::NSEG > 1 && seg) ? CFG::NCO1 : CFG::NCO0;
            if (++ci == CFG::IN_CHUNKS) {
                ci = 0;
                if (++kx == ks) {
                    kx = 0;
                    if (++ky == ks) {
                        ky = 0;
                        if (++co == nco) {
                            co = 0;
                            if (CFG::NSEG > 1 && !seg) {
                                seg = 1;
                            } else {
                                seg = 0;
                                win_x += CFG::S;
                                if (++ox == CFG::OW) {
                                    ox = 0;
                                    win_x = -CFG::PL;
                                    win_y += CFG::S;
                                    oy++;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- multiply-accumulate: one weight ROM word per step, PO output channels per chunk ---------------
// CFG (besides the window's): PO, PACK (1, or 2: two output channels per multiplier), PACK_SHIFT, WB
// (weight bits), IB and ISIGNED (input), ACCW (accumulator bits), PROD_SHIFT0/1 and RELU0/1 (per
// segment), D (requantisation shift), OSIGNED, weight_t (ROM entry: a weight, or a packed pair).
template <class T, class out_T, typename CFG>
void mac(hls::stream<Step<T, CFG::PI> > &in, hls::stream<out_T> &out,
         const typename CFG::weight_t w[CFG::NSTEP * CFG::LANES], const typename CFG::bias_t b[CFG::NBIAS]) {
    static const unsigned PI = CFG::PI, PO = CFG::PO, LANES = CFG::LANES;
    static const int IB = CFG::IB, ACCW = CFG::ACCW, PS = CFG::PACK_SHIFT, WBITS = CFG::WB;
    static const int COEF_W = PS + WBITS + 1, PSUM_W = CFG::PSUM_W;
    typedef typename out_T::value_type o_T;
    ap_int<ACCW> acc[PO];
    #pragma HLS ARRAY_PARTITION variable = acc complete
    unsigned ci = 0, kx = 0, ky = 0, co = 0, seg = 0, step = 0;
Steps:
    for (unsigned i = 0; i < CFG::OH * CFG::OW * CFG::NSTEP; i++) {
        #pragma HLS PIPELINE II = 1
        Step<T, PI> x = in.read();
        unsigned ks = (CFG::NSEG > 1 && seg) ? CFG::KS1 : CFG::KS0;
        bool first = ci == 0 && kx == 0 && ky == 0;
        bool last = ci == CFG::IN_CHUNKS - 1 && kx == ks - 1 && ky == ks - 1;
        unsigned gco = seg ? co + CFG::NCO0 : co;  // output-channel chunk over both segments
        int shift = seg ? CFG::PROD_SHIFT1 : CFG::PROD_SHIFT0;
        ap_int<ACCW> sum[PO];
        #pragma HLS ARRAY_PARTITION variable = sum complete
        if (CFG::PACK == 1) {
            for (unsigned po = 0; po < PO; po++) {
                #pragma HLS UNROLL
                ap_int<ACCW> psum = 0;
                for (unsigned pi = 0; pi < PI; pi++) {
                    #pragma HLS UNROLL
                    ap_int<WBITS + IB + 1> p = ap_int<WBITS>(w[step * LANES + po * PI + pi]) *
                                               raw<IB + 1, CFG::ISIGNED>(x.d[pi]);
                    psum += p;
                }
                sum[po] = psum << shift;
            }
        } else {  // two channels per product: (hi * 2^PS + lo) * x, split exactly (sqz_mac.sv)
            for (unsigned j = 0; j < PO / 2; j++) {
                #pragma HLS UNROLL
                ap_int<PSUM_W> psum = 0;
                for (unsigned pi = 0; pi < PI; pi++) {
                    #pragma HLS UNROLL
                    ap_int<2 * WBITS + 1> e = w[step * LANES + j * PI + pi];
                    ap_int<WBITS + 1> hi = e >> WBITS;
                    ap_int<PS> lo = ap_int<WBITS>(e.range(WBITS - 1, 0));
                    ap_int<COEF_W> coef = (ap_int<COEF_W>(hi) << PS) | ap_int<COEF_W>(ap_uint<PS>(lo.range(PS - 1, 0)));
                    psum += ap_int<PSUM_W>(coef * raw<IB + 1, CFG::ISIGNED>(x.d[pi]));
                }
                ap_int<ACCW> lo_sum = ap_int<PS>(psum.range(PS - 1, 0));
                ap_int<PSUM_W> hi_sum = (psum >> PS) + ap_int<PSUM_W>(psum[PS - 1] ? 1 : 0);
                sum[2 * j] = lo_sum << shift;
                sum[2 * j + 1] = ap_int<ACCW>(hi_sum) << shift;
            }
        }
        out_T o;
        for (unsigned po = 0; po < PO; po++) {
            #pragma HLS UNROLL
            acc[po] = (first ? ap_int<ACCW>(b[gco * PO + po]) : acc[po]) + sum[po];
            o[po] = seg ? requant<o_T, CFG::OSIGNED, CFG::D, CFG::RELU1>(acc[po])
                        : requant<o_T, CFG::OSIGNED, CFG::D, CFG::RELU0>(acc[po]);
        }
        if (last)
            out.write(o);
        step = step == CFG::NSTEP - 1 ? 0 : step + 1;
        unsigned nco = (CFG::NSEG > 1 && seg) ? CFG::NCO1 : CFG::NCO0;
        if (++ci == CFG::IN_CHUNKS) {
            ci = 0;
            if (++kx == ks) {
                kx = 0;
                if (++ky == ks) {
                    ky = 0;
                    if (++co == nco) {
                        co = 0;
                        seg = (CFG::NSEG > 1 && !seg) ? 1 : 0;
                    }
                }
            }
        }
    }
}

// ---- a convolution layer: window -> mac ---------------------------------------------------------
template <class data_T, class res_T, typename CFG>
void conv(hls::stream<data_T> &data, hls::stream<res_T> &res,
          const typename CFG::weight_t w[CFG::NSTEP * CFG::LANES], const typename CFG::bias_t b[CFG::NBIAS]) {
    #pragma HLS DATAFLOW
    typedef typename data_T::value_type in_T;
    hls::stream<Step<in_T, CFG::PI> > steps("steps");
    window<data_T, in_T, CFG>(data, steps);
    mac<in_T, res_T, CFG>(steps, res, w, b);
}

// ---- max pooling: window (one chunk of one tap per step) -> max over the taps in the image ---------
template <class in_T, class res_T, typename CFG> void pool_max(hls::stream<Step<in_T, CFG::PI> > &in, hls::stream<res_T> &out) {
    typedef typename res_T::value_type o_T;
    in_T m[CFG::PI];
    #pragma HLS ARRAY_PARTITION variable = m complete
    bool any = false;
    unsigned tap = 0;
Steps:
    for (unsigned i = 0; i < CFG::OH * CFG::OW * CFG::NSTEP; i++) {
        #pragma HLS PIPELINE II = 1
        Step<in_T, CFG::PI> x = in.read();
        res_T o;
        for (unsigned j = 0; j < CFG::PI; j++) {
            #pragma HLS UNROLL
            in_T v = (!x.pad && (!any || x.d[j] > m[j])) ? x.d[j] : m[j];
            m[j] = v;
            o[j] = o_T(v);
        }
        any = any || !x.pad;
        if (++tap == CFG::K * CFG::K) {
            tap = 0;
            any = false;
            out.write(o);
        }
    }
}

template <class data_T, class res_T, typename CFG> void maxpool(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    #pragma HLS DATAFLOW
    typedef typename data_T::value_type in_T;
    hls::stream<Step<in_T, CFG::PI> > steps("steps");
    window<data_T, in_T, CFG>(data, steps);
    pool_max<in_T, res_T, CFG>(steps, res);
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
// out = round_half_even(sum * 2^(out_frac - in_frac) / N), saturated: the integers the QONNX Quant after
// GlobalAveragePool produces. One beat (BIN channels) added per iteration, then one pipelined divider.
template <class data_T, class res_T, typename CONFIG_T>
void global_avg(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    static const unsigned C = CONFIG_T::n_chan, N = CONFIG_T::in_height * CONFIG_T::in_width;
    static const unsigned BIN = data_T::size, NB = C / BIN;
    ap_int<CONFIG_T::sum_width> sum[NB][BIN];
    #pragma HLS ARRAY_PARTITION variable = sum complete dim = 0
    unsigned beat = 0;
Beats:
    for (unsigned i = 0; i < N * NB; i++) {
        #pragma HLS PIPELINE II = 1
        data_T px = data.read();
        for (unsigned j = 0; j < BIN; j++) {
            #pragma HLS UNROLL
            sum[beat][j] = (i < NB ? ap_int<CONFIG_T::sum_width>(0) : sum[beat][j]) +
                           raw<CONFIG_T::sum_width, CONFIG_T::in_signed>(px[j]);
        }
        beat = beat == NB - 1 ? 0 : beat + 1;
    }
    res_T o;
Divide:
    for (unsigned ch = 0; ch < C; ch++) {
        #pragma HLS PIPELINE II = 1
        o[ch] = exact_average<typename res_T::value_type, CONFIG_T>(sum[ch / BIN][ch % BIN], N);
    }
    res.write(o);
}

// ---- the Fire module ------------------------------------------------------------------------------
// squeeze (window -> mac) -> expand (window -> mac, the 1x1 and 3x3 expands as two segments of one
// unit, outputs concatenated) [-> add the bypass: the module input, requantised (identity) or through a
// 1x1 conv unit]. The bypass copy waits in a FIFO of BYPASS_DEPTH beats (W + 4 pixels, as the RTL's)
// while the expand fills a row.

// one input beat to both the squeeze and the bypass
template <class T, unsigned N> void dup(hls::stream<T> &in, hls::stream<T> &a, hls::stream<T> &b) {
Beats:
    for (unsigned i = 0; i < N; i++) {
        #pragma HLS PIPELINE II = 1
        T x = in.read();
        a.write(x);
        b.write(x);
    }
}

// a + requant(b) per channel, requantised: sqz_add (sqz_stream.sv). a comes in beats of A::size channels,
// b in beats of B::size; a pixel of b is collected in registers as its beats arrive (one read per iteration).
template <class a_T, class b_T, class res_T, typename CFG> void add(hls::stream<a_T> &a, hls::stream<b_T> &b, hls::stream<res_T> &res) {
    static const unsigned C = CFG::C, NA = a_T::size, NB = b_T::size;
    typedef typename a_T::value_type av_T;
    typedef typename b_T::value_type bv_T;
    typedef typename res_T::value_type o_T;
    static const int AB = av_T::width, BB = bv_T::width, SW = (AB > BB ? AB : BB) + 3;
    av_T bpix[C / NB][NB];
    #pragma HLS ARRAY_PARTITION variable = bpix complete dim = 0
    unsigned got = 0, done = 0;  // b and a channels of the current pixel so far
Beats:
    for (unsigned i = 0; i < CFG::PIXELS * (C / NA + C / NB); i++) {
        #pragma HLS PIPELINE II = 1
        if (got < done + NA) {  // the b channels of the next a beat are not all in yet
            b_T x = b.read();
            for (unsigned j = 0; j < NB; j++) {
                #pragma HLS UNROLL
                bpix[got / NB][j] = requant<av_T, CFG::ASIGNED, CFG::BD, CFG::BRELU>(raw<BB + 1, CFG::BSIGNED>(x[j]));
            }
            got += NB;
        } else {
            a_T x = a.read();
            res_T o;
            for (unsigned j = 0; j < NA; j++) {
                #pragma HLS UNROLL
                unsigned ch = done + j;
                ap_int<SW> s = raw<SW, CFG::ASIGNED>(x[j]) + raw<SW, CFG::ASIGNED>(bpix[ch / NB][ch % NB]);
                o[j] = requant<o_T, CFG::OSIGNED, CFG::OD, CFG::ORELU>(s);
            }
            res.write(o);
            done += NA;
            if (done == C) {
                done = 0;
                got = 0;
            }
        }
    }
}

// Three forms, one per bypass kind, so that each DATAFLOW region is a plain sequence of processes;
// the bypass forms run the plain one (squeeze -> expand) as one of their processes.
#define SQZ_FIRE_ARGS                                                                                             \
    hls::stream<data_T> &data, hls::stream<res_T> &res,                                                          \
        const typename CFG::squeeze::weight_t sq_w[CFG::squeeze::NSTEP * CFG::squeeze::LANES],                   \
        const typename CFG::squeeze::bias_t sq_b[CFG::squeeze::NBIAS],                                           \
        const typename CFG::expand::weight_t ex_w[CFG::expand::NSTEP * CFG::expand::LANES],                      \
        const typename CFG::expand::bias_t ex_b[CFG::expand::NBIAS]

// squeeze -> expand, the part every form shares: a DATAFLOW region of its own (one process of the caller's)
template <class data_T, class res_T, typename CFG> void fire(SQZ_FIRE_ARGS) {
    #pragma HLS DATAFLOW
    typedef typename data_T::value_type in_T;
    typedef typename CFG::squeeze_beat sq_beat;
    typedef typename sq_beat::value_type sq_T;
    hls::stream<Step<in_T, CFG::squeeze::PI> > sq_steps("sq_steps");
    hls::stream<sq_beat> sq_out("sq_out");
    hls::stream<Step<sq_T, CFG::expand::PI> > ex_steps("ex_steps");
    window<data_T, in_T, typename CFG::squeeze>(data, sq_steps);
    mac<in_T, sq_beat, typename CFG::squeeze>(sq_steps, sq_out, sq_w, sq_b);
    window<sq_beat, sq_T, typename CFG::expand>(sq_out, ex_steps);
    mac<sq_T, res_T, typename CFG::expand>(ex_steps, res, ex_w, ex_b);
}

template <class data_T, class res_T, typename CFG> void fire_identity(SQZ_FIRE_ARGS) {
    #pragma HLS DATAFLOW
    typedef typename CFG::expand_beat ex_beat;
    hls::stream<data_T> sq_in("sq_in"), by_in("by_in");
    #pragma HLS STREAM variable = by_in depth = CFG::BYPASS_DEPTH
    hls::stream<ex_beat> ex_out("ex_out");
    dup<data_T, CFG::squeeze::H * CFG::squeeze::W * (CFG::squeeze::C / data_T::size)>(data, sq_in, by_in);
    fire<data_T, ex_beat, CFG>(sq_in, ex_out, sq_w, sq_b, ex_w, ex_b);
    add<ex_beat, data_T, res_T, typename CFG::adder>(ex_out, by_in, res);
}

template <class data_T, class res_T, typename CFG>
void fire_conv(SQZ_FIRE_ARGS, const typename CFG::bypass::weight_t by_w[CFG::bypass::NSTEP * CFG::bypass::LANES],
               const typename CFG::bypass::bias_t by_b[CFG::bypass::NBIAS]) {
    #pragma HLS DATAFLOW
    typedef typename data_T::value_type in_T;
    typedef typename CFG::expand_beat ex_beat;
    typedef typename CFG::bypass_beat by_beat;
    hls::stream<data_T> sq_in("sq_in"), by_in("by_in");
    #pragma HLS STREAM variable = by_in depth = CFG::BYPASS_DEPTH
    hls::stream<ex_beat> ex_out("ex_out");
    hls::stream<Step<in_T, CFG::bypass::PI> > by_steps("by_steps");
    hls::stream<by_beat> by_out("by_out");
    dup<data_T, CFG::squeeze::H * CFG::squeeze::W * (CFG::squeeze::C / data_T::size)>(data, sq_in, by_in);
    fire<data_T, ex_beat, CFG>(sq_in, ex_out, sq_w, sq_b, ex_w, ex_b);
    window<data_T, in_T, typename CFG::bypass>(by_in, by_steps);
    mac<in_T, by_beat, typename CFG::bypass>(by_steps, by_out, by_w, by_b);
    add<ex_beat, by_beat, res_T, typename CFG::adder>(ex_out, by_out, res);
}
#undef SQZ_FIRE_ARGS

} // namespace sqz

#endif
