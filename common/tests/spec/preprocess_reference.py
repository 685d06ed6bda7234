# Run: python3 common/tests/spec/preprocess_reference.py -> the values asserted in
# common/src/preprocess/tests.rs::pilotnet_preprocessing_is_frozen.
# Independent implementation of the documented preprocessing spec (common/src/preprocess/mod.rs).
import zlib
W,H=320,160
frame=bytes((((i*2654435761)&0xffffffff)>>13 ^ (i//960))&255 for i in range(W*H*3))
def coord(i,n,N):
    s=((2*i+1)*n*256)//(2*N)-128
    s=max(s,0); i0=s>>8; f=s&255
    if i0>=n-1: i0=n-1; f=0
    return i0,min(i0+1,n-1),f
cx,cy,cw,ch=0,60,320,75
OW,OH=200,66
out=[]
for oy in range(OH):
    y0,y1,fy=coord(oy,ch,OH)
    for ox in range(OW):
        x0,x1,fx=coord(ox,cw,OW)
        def p(y,x,c): return frame[((cy+y)*W+cx+x)*3+c]
        rgb=[]
        for c in range(3):
            h0=p(y0,x0,c)*(256-fx)+p(y0,x1,c)*fx
            h1=p(y1,x0,c)*(256-fx)+p(y1,x1,c)*fx
            rgb.append((h0*(256-fy)+h1*fy+32768)>>16)
        r,g,b=rgb
        Y=(77*r+150*g+29*b+128)>>8
        U=min(255,max(0,((-43*r-85*g+128*b+128)>>8)+128))
        V=min(255,max(0,((128*r-107*g-21*b+128)>>8)+128))
        out+= [Y-128,U-128,V-128]
print(out[:6], hex(zlib.crc32(bytes(v&255 for v in out))))

# The resizes that RowStream takes fast (a crop a whole multiple of the output along both
# axes) -> the values asserted in common/src/preprocess/tests.rs::fast_path_cases_are_frozen.
def run(crop, out_w, out_h, mode):
    cx, cy, cw, ch = crop
    res = []
    for oy in range(out_h):
        y0, y1, fy = coord(oy, ch, out_h)
        for ox in range(out_w):
            x0, x1, fx = coord(ox, cw, out_w)
            def p(y, x, c): return frame[((cy + y) * W + cx + x) * 3 + c]
            rgb = []
            for c in range(3):
                h0 = p(y0, x0, c) * (256 - fx) + p(y0, x1, c) * fx
                h1 = p(y1, x0, c) * (256 - fx) + p(y1, x1, c) * fx
                rgb.append((h0 * (256 - fy) + h1 * fy + 32768) >> 16)
            r, g, b = rgb
            Y = (77 * r + 150 * g + 29 * b + 128) >> 8
            U = min(255, max(0, ((-43 * r - 85 * g + 128 * b + 128) >> 8) + 128))
            V = min(255, max(0, ((128 * r - 107 * g - 21 * b + 128) >> 8) + 128))
            res += {'rgb': rgb, 'yuv': [Y, U, V], 'gray': [Y]}[mode]
    return [v - 128 for v in res]
for crop, ow, oh, mode in [((100, 60, 96, 32), 96, 32, 'yuv'), ((0, 60, 320, 76), 160, 38, 'rgb'),
                           ((0, 58, 320, 96), 80, 24, 'gray'), ((1, 2, 288, 96), 96, 32, 'yuv')]:
    out = run(crop, ow, oh, mode)
    print(crop, ow, oh, mode, out[:6], hex(zlib.crc32(bytes(v & 255 for v in out))))
