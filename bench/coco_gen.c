/* coco_gen.c - write a synthetic COCO instances JSON shaped like train2017
 * (118,287 images, 860,001 annotations, polygons of 8-47 vertices, ~1% crowd
 * RLE, one line like the real file). Deterministic (fixed LCG).
 *   coco_gen OUT.json [IMAGES ANNOTATIONS]   (default 118287 860001) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t s = 88172645463325252ULL;
static uint32_t rnd(uint32_t n)
{
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(s >> 33) % n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: coco_gen OUT.json [IMAGES ANNOTATIONS]\n");
        return 2;
    }
    long ni = argc > 2 ? atol(argv[2]) : 118287, na = argc > 3 ? atol(argv[3]) : 860001;
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    fputs("{\"info\": {\"description\": \"synthetic COCO-shaped data for calq's benchmark\", "
          "\"version\": \"1.0\", \"year\": 2017}, \"licenses\": [{\"url\": \"http://example.org/\", "
          "\"id\": 1, \"name\": \"none\"}], \"images\": [", f);
    for (long i = 0; i < ni; i++)
        fprintf(f, "%s{\"license\": %u, \"file_name\": \"%012ld.jpg\", \"coco_url\": "
                   "\"http://images.example.org/train2017/%012ld.jpg\", \"height\": %u, \"width\": 640, "
                   "\"date_captured\": \"2013-11-14 17:02:52\", \"flickr_url\": "
                   "\"http://farm4.example.org/%ld.jpg\", \"id\": %ld}",
                i ? ", " : "", rnd(8) + 1, i + 1, i + 1, 360 + rnd(120), i + 1, i + 1);
    fputs("], \"annotations\": [", f);
    for (long a = 0; a < na; a++) {
        long img = (long)rnd((uint32_t)ni) + 1;
        double x = rnd(50000) / 100.0, y = rnd(30000) / 100.0, w = rnd(14000) / 100.0 + 1,
               h = rnd(10000) / 100.0 + 1;
        fprintf(f, "%s{\"segmentation\": ", a ? ", " : "");
        int crowd = rnd(100) == 0;
        if (crowd) {
            fputs("{\"counts\": [", f);
            for (int k = 0, n = 20 + rnd(60); k < n; k++)
                fprintf(f, "%s%u", k ? "," : "", rnd(3000));
            fputs("], \"size\": [427, 640]}", f);
        } else {
            fputs("[[", f);
            for (int k = 0, n = 8 + rnd(40); k < n; k++)
                fprintf(f, "%s%.2f,%.2f", k ? "," : "", x + rnd((uint32_t)w * 100) / 100.0,
                        y + rnd((uint32_t)h * 100) / 100.0);
            fputs("]]", f);
        }
        fprintf(f, ", \"area\": %.4f, \"iscrowd\": %d, \"image_id\": %ld, \"bbox\": [%.2f, %.2f, "
                   "%.2f, %.2f], \"category_id\": %u, \"id\": %ld}",
                w * h * 0.6, crowd, img, x, y, w, h, rnd(80) + 1, a + 1);
    }
    fputs("], \"categories\": [", f);
    for (int c = 0; c < 80; c++)
        fprintf(f, "%s{\"supercategory\": \"thing\", \"id\": %d, \"name\": \"class%02d\"}", c ? ", " : "",
                c + 1, c + 1);
    fputs("]}", f);
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
