;; Die-to-die residual kernels in WebAssembly SIMD (f64x2 / f32x4): the same arithmetic, in the
;; same order and precision, as the JavaScript of die-to-die.ts (interiorRun, cellRangeRow), two or
;; four pixels per instruction. Assembled by scripts/build-wasm.ts into die-to-die-kernel.ts.
;;
;; Why it is exact: every JavaScript step is one IEEE operation on doubles (float32 samples are
;; promoted exactly); f64x2 add/sub/mul/neg/abs/min/max are the same operations lane by lane
;; (min/max propagate NaN and order -0 below +0, as Math.min/Math.max do), the float32 store is
;; the same round-to-nearest (f32x4.demote_f64x2_zero), and nothing is fused or reassociated.
;; The cell ranges are max - min of four float32 values: f32x4 max/min equal Math.max/Math.min of
;; the promoted values, and a float32 subtraction equals the double one rounded to float32
;; (double rounding is exact for +, -, *, / when 53 >= 2 * 24 + 2).
;;
;; Memory (exported, grown by the caller): bytes 0..255 hold the interior's parameters:
;;   f64 fx[8] at 0, f64 fy[8] at 64, f64 share[4] at 128, f64 noiseSigma at 160,
;;   i32 offset[8] at 192 (pixel index of each shift's top-left sample minus the pixel's),
;;   i32 rangeDelta[8] at 224 (ring index of each shift's cell minus the pixel's index).
;; Shifts are interleaved +d, -d per direction (a, b, a + b, a - b), as in dieToDieResidual.
(module
  (memory (export "memory") 1)

  ;; Residuals of pixels first..last (indices into the map at dataPtr; every shift's samples lie
  ;; on the map), written as float32 to outPtr + 4 * (p - first). Pixels go two at a time: when
  ;; the count is odd, one value past `last` is computed and written too (the caller pads both
  ;; the map and the output).
  (func (export "interior")
    (param $dataPtr i32) (param $ringPtr i32) (param $outPtr i32) (param $width i32)
    (param $first i32) (param $last i32)
    (local $q i32) (local $end i32) (local $outBase i32)
    (local $top0 i32) (local $bottom0 i32) (local $range0 i32) (local $fx0 v128) (local $fy0 v128)
    (local $top1 i32) (local $bottom1 i32) (local $range1 i32) (local $fx1 v128) (local $fy1 v128)
    (local $top2 i32) (local $bottom2 i32) (local $range2 i32) (local $fx2 v128) (local $fy2 v128)
    (local $top3 i32) (local $bottom3 i32) (local $range3 i32) (local $fx3 v128) (local $fy3 v128)
    (local $top4 i32) (local $bottom4 i32) (local $range4 i32) (local $fx4 v128) (local $fy4 v128)
    (local $top5 i32) (local $bottom5 i32) (local $range5 i32) (local $fx5 v128) (local $fy5 v128)
    (local $top6 i32) (local $bottom6 i32) (local $range6 i32) (local $fx6 v128) (local $fy6 v128)
    (local $top7 i32) (local $bottom7 i32) (local $range7 i32) (local $fx7 v128) (local $fy7 v128)
    (local $share0 v128) (local $share1 v128) (local $share2 v128) (local $share3 v128)
    (local $sigma v128) (local $half v128) (local $zero v128) (local $one v128) (local $minusOne v128)
    (local $v v128) (local $left v128) (local $aTop v128) (local $aBottom v128) (local $bTop v128)
    (local $bBottom v128) (local $ref v128) (local $allowance v128) (local $d v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $sum v128) (local $second v128)
    (local.set $top0 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=192 (i32.const 0)) (i32.const 2))))
    (local.set $bottom0 (i32.add (local.get $top0) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range0 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=224 (i32.const 0)) (i32.const 2))))
    (local.set $fx0 (f64x2.splat (f64.load offset=0 (i32.const 0))))
    (local.set $fy0 (f64x2.splat (f64.load offset=64 (i32.const 0))))
    (local.set $top1 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=196 (i32.const 0)) (i32.const 2))))
    (local.set $bottom1 (i32.add (local.get $top1) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range1 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=228 (i32.const 0)) (i32.const 2))))
    (local.set $fx1 (f64x2.splat (f64.load offset=8 (i32.const 0))))
    (local.set $fy1 (f64x2.splat (f64.load offset=72 (i32.const 0))))
    (local.set $top2 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=200 (i32.const 0)) (i32.const 2))))
    (local.set $bottom2 (i32.add (local.get $top2) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range2 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=232 (i32.const 0)) (i32.const 2))))
    (local.set $fx2 (f64x2.splat (f64.load offset=16 (i32.const 0))))
    (local.set $fy2 (f64x2.splat (f64.load offset=80 (i32.const 0))))
    (local.set $top3 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=204 (i32.const 0)) (i32.const 2))))
    (local.set $bottom3 (i32.add (local.get $top3) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range3 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=236 (i32.const 0)) (i32.const 2))))
    (local.set $fx3 (f64x2.splat (f64.load offset=24 (i32.const 0))))
    (local.set $fy3 (f64x2.splat (f64.load offset=88 (i32.const 0))))
    (local.set $top4 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=208 (i32.const 0)) (i32.const 2))))
    (local.set $bottom4 (i32.add (local.get $top4) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range4 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=240 (i32.const 0)) (i32.const 2))))
    (local.set $fx4 (f64x2.splat (f64.load offset=32 (i32.const 0))))
    (local.set $fy4 (f64x2.splat (f64.load offset=96 (i32.const 0))))
    (local.set $top5 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=212 (i32.const 0)) (i32.const 2))))
    (local.set $bottom5 (i32.add (local.get $top5) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range5 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=244 (i32.const 0)) (i32.const 2))))
    (local.set $fx5 (f64x2.splat (f64.load offset=40 (i32.const 0))))
    (local.set $fy5 (f64x2.splat (f64.load offset=104 (i32.const 0))))
    (local.set $top6 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=216 (i32.const 0)) (i32.const 2))))
    (local.set $bottom6 (i32.add (local.get $top6) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range6 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=248 (i32.const 0)) (i32.const 2))))
    (local.set $fx6 (f64x2.splat (f64.load offset=48 (i32.const 0))))
    (local.set $fy6 (f64x2.splat (f64.load offset=112 (i32.const 0))))
    (local.set $top7 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=220 (i32.const 0)) (i32.const 2))))
    (local.set $bottom7 (i32.add (local.get $top7) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range7 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=252 (i32.const 0)) (i32.const 2))))
    (local.set $fx7 (f64x2.splat (f64.load offset=56 (i32.const 0))))
    (local.set $fy7 (f64x2.splat (f64.load offset=120 (i32.const 0))))
    (local.set $share0 (f64x2.splat (f64.load offset=128 (i32.const 0))))
    (local.set $share1 (f64x2.splat (f64.load offset=136 (i32.const 0))))
    (local.set $share2 (f64x2.splat (f64.load offset=144 (i32.const 0))))
    (local.set $share3 (f64x2.splat (f64.load offset=152 (i32.const 0))))
    (local.set $sigma (f64x2.splat (f64.load offset=160 (i32.const 0))))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $zero (f64x2.splat (f64.const 0)))
    (local.set $one (f64x2.splat (f64.const 1)))
    (local.set $minusOne (f64x2.splat (f64.const -1)))
    (local.set $q (i32.shl (local.get $first) (i32.const 2)))
    (local.set $end (i32.shl (local.get $last) (i32.const 2)))
    (local.set $outBase (i32.sub (local.get $outPtr) (local.get $q)))
    (block $done
      (loop $pixels
        (br_if $done (i32.gt_u (local.get $q) (local.get $end)))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dataPtr) (local.get $q)))))

      ;; Direction 0: the pair average of shifts 0 (+d) and 1 (-d), bilinear at fractions fx, fy.
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top0) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top0) (local.get $q))))
        (local.get $left)) (local.get $fx0))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom0) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom0) (local.get $q))))
        (local.get $left)) (local.get $fx0))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top1) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top1) (local.get $q))))
        (local.get $left)) (local.get $fx1))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom1) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom1) (local.get $q))))
        (local.get $left)) (local.get $fx1))))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy0)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy1)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.max (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share0)
        (f64x2.max
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range0) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range1) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e0 (f64x2.sub (local.get $d) (f64x2.min
        (f64x2.max (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m0 (f64x2.abs (local.get $e0)))
      ;; Direction 1: the pair average of shifts 2 (+d) and 3 (-d), bilinear at fractions fx, fy.
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top2) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top2) (local.get $q))))
        (local.get $left)) (local.get $fx2))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom2) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom2) (local.get $q))))
        (local.get $left)) (local.get $fx2))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top3) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top3) (local.get $q))))
        (local.get $left)) (local.get $fx3))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom3) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom3) (local.get $q))))
        (local.get $left)) (local.get $fx3))))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy2)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy3)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.max (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share1)
        (f64x2.max
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range2) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range3) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e1 (f64x2.sub (local.get $d) (f64x2.min
        (f64x2.max (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m1 (f64x2.abs (local.get $e1)))
      ;; Direction 2: the pair average of shifts 4 (+d) and 5 (-d), bilinear at fractions fx, fy.
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top4) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top4) (local.get $q))))
        (local.get $left)) (local.get $fx4))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom4) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom4) (local.get $q))))
        (local.get $left)) (local.get $fx4))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top5) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top5) (local.get $q))))
        (local.get $left)) (local.get $fx5))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom5) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom5) (local.get $q))))
        (local.get $left)) (local.get $fx5))))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy4)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy5)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.max (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share2)
        (f64x2.max
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range4) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range5) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e2 (f64x2.sub (local.get $d) (f64x2.min
        (f64x2.max (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m2 (f64x2.abs (local.get $e2)))
      ;; Direction 3: the pair average of shifts 6 (+d) and 7 (-d), bilinear at fractions fx, fy.
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top6) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top6) (local.get $q))))
        (local.get $left)) (local.get $fx6))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom6) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom6) (local.get $q))))
        (local.get $left)) (local.get $fx6))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top7) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top7) (local.get $q))))
        (local.get $left)) (local.get $fx7))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom7) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom7) (local.get $q))))
        (local.get $left)) (local.get $fx7))))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy6)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy7)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.max (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share3)
        (f64x2.max
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range6) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range7) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e3 (f64x2.sub (local.get $d) (f64x2.min
        (f64x2.max (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m3 (f64x2.abs (local.get $e3)))

        ;; 2nd smallest of the four magnitudes, signed by the sum ((e0 + e1) + e2) + e3.
        (local.set $second (f64x2.min
          (f64x2.max (f64x2.min (local.get $m0) (local.get $m1)) (f64x2.min (local.get $m2) (local.get $m3)))
          (f64x2.min (f64x2.max (local.get $m0) (local.get $m1)) (f64x2.max (local.get $m2) (local.get $m3)))))
        (local.set $sum (f64x2.add (f64x2.add (f64x2.add (local.get $e0) (local.get $e1)) (local.get $e2)) (local.get $e3)))
        ;; Math.sign(sum): 1 above 0, -1 below, else the sum itself (+0, -0, NaN).
        (v128.store64_lane 0 (i32.add (local.get $outBase) (local.get $q))
          (f32x4.demote_f64x2_zero (f64x2.mul
            (v128.bitselect (local.get $one)
              (v128.bitselect (local.get $minusOne) (local.get $sum) (f64x2.lt (local.get $sum) (local.get $zero)))
              (f64x2.gt (local.get $sum) (local.get $zero)))
            (local.get $second))))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (br $pixels))))

  ;; One row of 2x2 cell ranges: count cells from the top-left pixel at byte address `top`
  ;; (the row below is `width` pixels on), max - min of each cell's four values, to `into`.
  ;; Reads one column past the last cell, as cellRangeRow does.
  (func (export "cellRanges")
    (param $top i32) (param $width i32) (param $into i32) (param $count i32)
    (local $bottom i32) (local $i i32) (local $vectorEnd i32) (local $end i32)
    (local $t0 v128) (local $t1 v128) (local $b0 v128) (local $b1 v128)
    (local $hi f32) (local $lo f32)
    (local.set $bottom (i32.add (local.get $top) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $vectorEnd (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $t0 (v128.load (i32.add (local.get $top) (local.get $i))))
        (local.set $t1 (v128.load offset=4 (i32.add (local.get $top) (local.get $i))))
        (local.set $b0 (v128.load (i32.add (local.get $bottom) (local.get $i))))
        (local.set $b1 (v128.load offset=4 (i32.add (local.get $bottom) (local.get $i))))
        (v128.store (i32.add (local.get $into) (local.get $i))
          (f32x4.sub
            (f32x4.max (f32x4.max (local.get $t0) (local.get $b0)) (f32x4.max (local.get $t1) (local.get $b1)))
            (f32x4.min (f32x4.min (local.get $t0) (local.get $b0)) (f32x4.min (local.get $t1) (local.get $b1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (block $scalarsDone
      (loop $scalars
        (br_if $scalarsDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $hi (f32.max
          (f32.max (f32.load (i32.add (local.get $top) (local.get $i))) (f32.load (i32.add (local.get $bottom) (local.get $i))))
          (f32.max (f32.load offset=4 (i32.add (local.get $top) (local.get $i))) (f32.load offset=4 (i32.add (local.get $bottom) (local.get $i))))))
        (local.set $lo (f32.min
          (f32.min (f32.load (i32.add (local.get $top) (local.get $i))) (f32.load (i32.add (local.get $bottom) (local.get $i))))
          (f32.min (f32.load offset=4 (i32.add (local.get $top) (local.get $i))) (f32.load offset=4 (i32.add (local.get $bottom) (local.get $i))))))
        (f32.store (i32.add (local.get $into) (local.get $i)) (f32.sub (local.get $hi) (local.get $lo)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalars))))
)
