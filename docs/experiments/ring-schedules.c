// C model of the ring allreduce's schedules, used to find why our ring was only level
// with native MPI_Allreduce on one host (docs/performance.md, "Latest"). Each variant
// is a reduce-scatter schedule + an allgather schedule over the same chunks; all are
// timed round-robin with MPI_Allreduce in one run (median of K calls, slowest rank).
//   lock:   MPI_Irecv + blocking MPI_Send + wait per step (allgather: MPI_Sendrecv)
//   ours:   the schedule we had: two receives posted ahead, nonblocking sends;
//           allgather with every receive posted up front
//   nbsend: nonblocking sends, each receive posted just before it is waited for
//   db:     nonblocking sends, the next receive posted before adding the current one
//   nb:     allgather with each receive posted just before it is waited for (kept)
// Build and run (idle machine; add two `yes > /dev/null` for the loaded case):
//   mpicc -O3 -march=native -o /tmp/ring-schedules docs/experiments/ring-schedules.c
//   launch/mpirun-local 8 /tmp/ring-schedules 1248424 15
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static int p,r,base,rem;
#define OFF(i) ((i)*base+((i)<rem?(i):rem))
#define LEN(i) (base+((i)<rem?1:0))
#define CH(i) ((((i)%p)+p)%p)
static void add(float*d,const float*t,int L){for(int i=0;i<L;i++)d[i]+=t[i];}
static void rs_lock(float*buf,float*tmp,MPI_Comm c){
  int right=(r+1)%p,left=(r+p-1)%p;
  for(int s=0;s<p-1;s++){int sc=CH(r-s),rc=CH(r-s-1);MPI_Request q;
    MPI_Irecv(tmp,LEN(rc),MPI_FLOAT,left,1,c,&q);
    MPI_Send(buf+OFF(sc),LEN(sc),MPI_FLOAT,right,1,c);
    MPI_Wait(&q,MPI_STATUS_IGNORE);add(buf+OFF(rc),tmp,LEN(rc));}
}
static void rs_ours(float*buf,float*tmp,MPI_Comm c){
  int right=(r+1)%p,left=(r+p-1)%p; int W=2,seg=base+1; MPI_Request rq[2],sq[64];int ns=0,posted=0;
  for(;posted<W&&posted<p-1;posted++)MPI_Irecv(tmp+(posted%W)*seg,LEN(CH(r-posted-1)),MPI_FLOAT,left,1,c,&rq[posted%W]);
  MPI_Isend(buf+OFF(r),LEN(r),MPI_FLOAT,right,1,c,&sq[ns++]);
  for(int s=0;s<p-1;s++){int rc=CH(r-s-1);MPI_Wait(&rq[s%W],MPI_STATUS_IGNORE);
    add(buf+OFF(rc),tmp+(s%W)*seg,LEN(rc));
    if(posted<p-1){MPI_Irecv(tmp+(posted%W)*seg,LEN(CH(r-posted-1)),MPI_FLOAT,left,1,c,&rq[posted%W]);posted++;}
    if(s+1<p-1)MPI_Isend(buf+OFF(rc),LEN(rc),MPI_FLOAT,right,1,c,&sq[ns++]);}
  MPI_Waitall(ns,sq,MPI_STATUSES_IGNORE);
}
static void rs_nbsend(float*buf,float*tmp,MPI_Comm c){ /* one recv at a time, nonblocking sends */
  int right=(r+1)%p,left=(r+p-1)%p; MPI_Request sq[64];int ns=0;
  for(int s=0;s<p-1;s++){int sc=CH(r-s),rc=CH(r-s-1);MPI_Request q;
    MPI_Irecv(tmp,LEN(rc),MPI_FLOAT,left,1,c,&q);
    if(s==0)MPI_Isend(buf+OFF(sc),LEN(sc),MPI_FLOAT,right,1,c,&sq[ns++]);
    MPI_Wait(&q,MPI_STATUS_IGNORE);add(buf+OFF(rc),tmp,LEN(rc));
    if(s+1<p-1)MPI_Isend(buf+OFF(rc),LEN(rc),MPI_FLOAT,right,1,c,&sq[ns++]);}
  MPI_Waitall(ns,sq,MPI_STATUSES_IGNORE);
}
static void rs_db(float*buf,float*tmp,MPI_Comm c){ /* post next recv right after the previous completes */
  int right=(r+1)%p,left=(r+p-1)%p; int seg=base+1; MPI_Request q[2],sq[64];int ns=0;
  MPI_Irecv(tmp,LEN(CH(r-1)),MPI_FLOAT,left,1,c,&q[0]);
  MPI_Isend(buf+OFF(r),LEN(r),MPI_FLOAT,right,1,c,&sq[ns++]);
  for(int s=0;s<p-1;s++){int rc=CH(r-s-1);MPI_Wait(&q[s%2],MPI_STATUS_IGNORE);
    if(s+1<p-1)MPI_Irecv(tmp+((s+1)%2)*seg,LEN(CH(r-s-2)),MPI_FLOAT,left,1,c,&q[(s+1)%2]);
    add(buf+OFF(rc),tmp+(s%2)*seg,LEN(rc));
    if(s+1<p-1)MPI_Isend(buf+OFF(rc),LEN(rc),MPI_FLOAT,right,1,c,&sq[ns++]);}
  MPI_Waitall(ns,sq,MPI_STATUSES_IGNORE);
}
static void ag_lock(float*buf,MPI_Comm c){
  int right=(r+1)%p,left=(r+p-1)%p;
  for(int s=0;s<p-1;s++){int sc=CH(r+1-s),rc=CH(r-s);
    MPI_Sendrecv(buf+OFF(sc),LEN(sc),MPI_FLOAT,right,2,buf+OFF(rc),LEN(rc),MPI_FLOAT,left,2,c,MPI_STATUS_IGNORE);}
}
static void ag_ours(float*buf,MPI_Comm c){
  int right=(r+1)%p,left=(r+p-1)%p; MPI_Request aq[64],sq[64];int ns=0;
  for(int s=0;s<p-1;s++)MPI_Irecv(buf+OFF(CH(r-s)),LEN(CH(r-s)),MPI_FLOAT,left,2,c,&aq[s]);
  MPI_Isend(buf+OFF(CH(r+1)),LEN(CH(r+1)),MPI_FLOAT,right,2,c,&sq[ns++]);
  for(int s=1;s<p-1;s++){MPI_Wait(&aq[s-1],MPI_STATUS_IGNORE);MPI_Isend(buf+OFF(CH(r+1-s)),LEN(CH(r+1-s)),MPI_FLOAT,right,2,c,&sq[ns++]);}
  MPI_Waitall(p-1,aq,MPI_STATUSES_IGNORE);MPI_Waitall(ns,sq,MPI_STATUSES_IGNORE);
}
static void ag_nb(float*buf,MPI_Comm c){
  int right=(r+1)%p,left=(r+p-1)%p; MPI_Request sq[64];int ns=0;
  for(int s=0;s<p-1;s++){MPI_Request q; MPI_Irecv(buf+OFF(CH(r-s)),LEN(CH(r-s)),MPI_FLOAT,left,2,c,&q);
    if(s==0)MPI_Isend(buf+OFF(CH(r+1)),LEN(CH(r+1)),MPI_FLOAT,right,2,c,&sq[ns++]);
    MPI_Wait(&q,MPI_STATUS_IGNORE);
    if(s+1<p-1)MPI_Isend(buf+OFF(CH(r-s)),LEN(CH(r-s)),MPI_FLOAT,right,2,c,&sq[ns++]);}
  MPI_Waitall(ns,sq,MPI_STATUSES_IGNORE);
}
#define NV 9
static const char*names[NV]={"native","lock+lock","ours+ours","lock+ours","ours+lock","nbsend+lock","nbsend+ours","db+ours","nbsend+nb"};
int main(int argc,char**argv){
  MPI_Init(&argc,&argv);MPI_Comm_size(MPI_COMM_WORLD,&p);MPI_Comm_rank(MPI_COMM_WORLD,&r);
  int n=argc>1?atoi(argv[1]):1248424,it=argc>2?atoi(argv[2]):15; base=n/p;rem=n%p;
  float*a=malloc((size_t)n*4),*b=malloc((size_t)n*4),*t=malloc((size_t)(2*(base+1))*4);
  for(int i=0;i<n;i++)a[i]=(float)((i*7+r)%13);
  static double T[NV][200];
  for(int k=0;k<it+2;k++)for(int m=0;m<NV;m++){int mm=(m+k)%NV;
    memcpy(b,a,(size_t)n*4);MPI_Barrier(MPI_COMM_WORLD);double t0=MPI_Wtime();
    switch(mm){case 0:MPI_Allreduce(MPI_IN_PLACE,b,n,MPI_FLOAT,MPI_SUM,MPI_COMM_WORLD);break;
      case 1:rs_lock(b,t,MPI_COMM_WORLD);ag_lock(b,MPI_COMM_WORLD);break;
      case 2:rs_ours(b,t,MPI_COMM_WORLD);ag_ours(b,MPI_COMM_WORLD);break;
      case 3:rs_lock(b,t,MPI_COMM_WORLD);ag_ours(b,MPI_COMM_WORLD);break;
      case 4:rs_ours(b,t,MPI_COMM_WORLD);ag_lock(b,MPI_COMM_WORLD);break;
      case 5:rs_nbsend(b,t,MPI_COMM_WORLD);ag_lock(b,MPI_COMM_WORLD);break;case 6:rs_nbsend(b,t,MPI_COMM_WORLD);ag_ours(b,MPI_COMM_WORLD);break;case 8:rs_nbsend(b,t,MPI_COMM_WORLD);ag_nb(b,MPI_COMM_WORLD);break;case 7:rs_db(b,t,MPI_COMM_WORLD);ag_ours(b,MPI_COMM_WORLD);break;}
    double dt=MPI_Wtime()-t0,mx;MPI_Allreduce(&dt,&mx,1,MPI_DOUBLE,MPI_MAX,MPI_COMM_WORLD);
    if(mm>0){ /* check */ float e=0; for(int i=0;i<n;i+=97){float want=0;for(int q=0;q<p;q++)want+=(float)((i*7+q)%13); float d=b[i]-want; if(d<0)d=-d; if(d>e)e=d;} if(e>1e-3&&r==0)printf("BAD %s\n",names[mm]);}
    if(k>=2)T[mm][k-2]=mx;}
  if(r==0){printf("np %d n %d:",p,n);for(int m=0;m<NV;m++){qsort(T[m],it,8,cmpd);printf(" %s %.2f (%.2f)",names[m],T[m][it/2]*1e3,T[m][it/2]/T[0][it/2]);}printf("\n");}
  MPI_Finalize();}
