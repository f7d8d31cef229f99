; The lab's guest: a 512-byte x86 real-mode boot sector (nasm -f bin boot.asm -o boot.bin).
;
; It reads LBA 1 (CHS cylinder 0, head 0, sector 2) of the disk it was booted from (BIOS int 13h,
; DL as the BIOS passed it), prints that sector's NUL-terminated text -- the marker, e.g.
; "DRPAIR vm=app1-web1 gen=2" -- to COM1 followed by "\r\n", and halts. A read error prints
; "DRPAIR read-error ah=XX" instead. deploy/lab/app1.sh writes this sector into sector 0 of every
; APP1 image and the marker into sector 1, and reads the guest's serial log.
bits 16
org 0x7c00

COM1 equ 0x3f8

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    cld
    mov [drive], dl

    ; UART: no interrupts, 115200 baud (divisor 1), 8N1, FIFO on, DTR+RTS.
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1 + 0
    mov al, 0x01
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    mov dx, COM1 + 2
    mov al, 0xc7
    out dx, al
    mov dx, COM1 + 4
    mov al, 0x03
    out dx, al

    ; Read sector 2 (LBA 1) to 0000:7E00, up to three tries with a disk reset in between.
    mov si, 3
.read:
    mov ax, 0x0201          ; AH=02 read, AL=1 sector
    mov cx, 0x0002          ; CH=cylinder 0, CL=sector 2
    xor dh, dh              ; head 0
    mov dl, [drive]
    mov bx, 0x7e00
    int 0x13
    jnc .print
    mov [status], ah
    xor ax, ax              ; reset the disk system
    mov dl, [drive]
    int 0x13
    dec si
    jnz .read
    mov si, read_error
    call puts
    mov al, [status]
    call puthex
    jmp .done

.print:
    mov byte [0x7e00 + 511], 0  ; the marker is at most 511 characters
    mov si, 0x7e00
    call puts

.done:
    mov si, crlf
    call puts
.halt:
    cli
    hlt
    jmp .halt

; Prints the NUL-terminated string at DS:SI to COM1.
puts:
    lodsb
    test al, al
    jz .end
    call putc
    jmp puts
.end:
    ret

; Prints AL as two hex digits.
puthex:
    push ax
    shr al, 4
    call .digit
    pop ax
    and al, 0x0f
.digit:
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '9' - 1
.out:
    jmp putc

; Sends AL to COM1 once the transmitter holding register is empty.
putc:
    push dx
    push ax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, COM1
    out dx, al
    pop dx
    ret

read_error: db "DRPAIR read-error ah=", 0
crlf:       db 13, 10, 0
drive:      db 0
status:     db 0

times 510 - ($ - $$) db 0
dw 0xaa55
